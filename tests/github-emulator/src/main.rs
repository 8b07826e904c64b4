//! The `github-emulator` binary; see `plangate_github_emulator::main_impl`.

fn main() -> std::process::ExitCode {
    plangate_github_emulator::main_impl()
}
