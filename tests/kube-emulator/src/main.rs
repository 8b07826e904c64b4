//! The `kube-emulator` binary; see `plangate_kube_emulator::main_impl`.

fn main() -> std::process::ExitCode {
    plangate_kube_emulator::main_impl()
}
