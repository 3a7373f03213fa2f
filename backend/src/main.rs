fn main() -> std::process::ExitCode {
    backend::cli::run()
}
