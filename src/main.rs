fn main() {
    println!("loopdeck");
}
