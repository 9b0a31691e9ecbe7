//! The `mcpx` binary: parses arguments and hands over to [`mcpx_cli::run`].

// mimalloc: per-thread free lists keep many small session and stream allocations cheap and
// return memory to the OS (the session-memory benchmark compares it with the system allocator,
// built with `--no-default-features`).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mcpx_cli::main_with_args(std::env::args_os())
}
