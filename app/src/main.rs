fn main() {
    // The service's `serve`/`migrate`/`healthcheck` commands land with the app issue.
    println!("ClickNBack app: cashback on a 10.00 purchase at 2.50% is {:?} cents", app::cashback_cents(1_000, 250));
}
