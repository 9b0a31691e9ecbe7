#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mcpx_wire::fuzzing::stdio_framing_chunked(data));
