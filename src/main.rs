//! The `plangate` binary: all behaviour lives in the library, see `plangate::main_impl`.

// Loading a large plan is allocation-bound (two YAML trees); mimalloc makes
// it markedly faster than the system allocator (see `benches/README.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    plangate::main_impl()
}
