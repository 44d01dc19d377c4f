//! The `gameday` binary: everything happens in the library; see `gameday::cli`.

fn main() -> std::process::ExitCode {
    gameday::cli::main()
}
