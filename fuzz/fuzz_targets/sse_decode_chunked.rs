#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mcpx_wire::fuzzing::sse_decode_chunked(data));
