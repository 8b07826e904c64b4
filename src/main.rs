//! The `plangate` binary: all behaviour lives in the library, see `plangate::main_impl`.

fn main() -> std::process::ExitCode {
    plangate::main_impl()
}
