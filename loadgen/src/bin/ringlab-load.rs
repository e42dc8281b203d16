fn main() {
    eprintln!("ringlab-load: not built yet");
    std::process::exit(2);
}
