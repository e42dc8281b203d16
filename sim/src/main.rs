fn main() {
    eprintln!("ringlab-sim: not built yet");
    std::process::exit(2);
}
