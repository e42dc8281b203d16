fn main() {
    eprintln!("ringlab-node: not built yet");
    std::process::exit(2);
}
