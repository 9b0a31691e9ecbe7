#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mcpx_wire::fuzzing::decode_message(data));
