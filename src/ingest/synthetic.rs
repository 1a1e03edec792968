//! A synthetic pytest-dialect JUnit report for benchmarks and budget checks:
//! deterministic (same arguments, same bytes), with realistic names, modules,
//! classes, parametrized ids, captured output and long tracebacks.

use std::fmt::Write;

/// A small deterministic generator (xorshift64*), enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const AREAS: &[&str] = &[
    "checkout",
    "cart",
    "auth",
    "billing",
    "inventory",
    "search",
    "profile",
    "orders",
    "shipping",
    "payments",
    "websocket",
    "messages",
    "admin",
    "reports",
    "catalog",
    "reviews",
];
const VERBS: &[&str] = &[
    "creates",
    "updates",
    "deletes",
    "lists",
    "rejects",
    "accepts",
    "retries",
    "caches",
    "renders",
    "paginates",
    "validates",
    "refunds",
    "syncs",
    "expires",
    "locks",
    "notifies",
];
const NOUNS: &[&str] = &[
    "order",
    "session",
    "token",
    "invoice",
    "item",
    "user",
    "coupon",
    "address",
    "payment",
    "message",
    "channel",
    "report",
    "review",
    "warehouse",
    "discount",
    "subscription",
];
const ERRORS: &[(&str, &str)] = &[
    ("AssertionError", "assert response.status_code == 200"),
    ("KeyError", "'order_id'"),
    (
        "TimeoutError",
        "timed out after 30.0s waiting for websocket frame",
    ),
    (
        "requests.exceptions.HTTPError",
        "500 Server Error: Internal Server Error for url: /api/orders",
    ),
    (
        "AttributeError",
        "'coroutine' object has no attribute 'json'",
    ),
    (
        "ValueError",
        "invalid literal for int() with base 10: 'abc'",
    ),
];

/// A pytest `--junitxml` report with `tests` test cases, of which about
/// `fail_ratio` fail (each with a `trace_lines`-line traceback and captured
/// output), ~3% are skipped and the rest pass. 100,000 tests with 2%
/// failures and 30-line tracebacks make about 21 MB.
pub fn generate_junit(tests: usize, fail_ratio: f64, trace_lines: usize) -> String {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut body = String::with_capacity(tests * 230 + 1024);
    let (mut failures, mut skipped) = (0usize, 0usize);
    let files_count = (tests / 200).max(1);
    let mut i = 0;
    let mut file_no = 0;
    while i < tests {
        let area = AREAS[file_no % AREAS.len()];
        let module = format!("tests.e2e.{area}.test_{area}_{:03}", file_no / AREAS.len());
        file_no += 1;
        let in_file = (tests / files_count).max(1) + rng.below(40);
        for _ in 0..in_file.min(tests - i) {
            let class = if rng.below(3) == 0 {
                format!(
                    ".Test{}{}",
                    capitalize(rng.pick(VERBS)),
                    capitalize(rng.pick(NOUNS))
                )
            } else {
                String::new()
            };
            let mut name = format!("test_{}_{}_{}", rng.pick(VERBS), rng.pick(NOUNS), i);
            if rng.below(4) == 0 {
                let _ = write!(name, "[variant-{}-{}]", rng.below(50), rng.pick(NOUNS));
            }
            let time = rng.unit() * 2.0;
            let roll = rng.unit();
            let _ = write!(
                body,
                r#"<testcase classname="{module}{class}" name="{name}" time="{time:.3}""#
            );
            if roll < fail_ratio {
                failures += 1;
                let (kind, msg) = ERRORS[rng.below(ERRORS.len())];
                let _ = write!(body, r#"><failure message="{kind}: {}">"#, escape(msg));
                for l in 0..trace_lines {
                    let _ = writeln!(
                        body,
                        "{}:{}: in {}_{}\n    result = client.{}(&quot;/api/{}/{}&quot;, timeout=30)",
                        module.replace('.', "/"),
                        40 + l * 7,
                        rng.pick(VERBS),
                        rng.pick(NOUNS),
                        rng.pick(VERBS),
                        rng.pick(NOUNS),
                        rng.below(100_000)
                    );
                }
                let _ = write!(
                    body,
                    "E       {kind}: {}</failure><system-out>request id {:016x}\nPOST /api/{} -&gt; 500\n</system-out><system-err>WARNING retrying ({}/3)\n</system-err></testcase>",
                    escape(msg),
                    rng.next(),
                    rng.pick(NOUNS),
                    rng.below(3) + 1
                );
            } else if roll < fail_ratio + 0.03 {
                skipped += 1;
                let _ = write!(
                    body,
                    r#"><skipped type="pytest.skip" message="needs the {} service">needs the {} service</skipped></testcase>"#,
                    rng.pick(NOUNS),
                    rng.pick(NOUNS)
                );
            } else if rng.below(5) == 0 {
                // Captured output of a passing test (junit_logging=all).
                let _ = write!(
                    body,
                    "><system-out>GET /api/{}/{} -&gt; 200 in {}ms\ncache hit ratio 0.{}\n</system-out></testcase>",
                    rng.pick(NOUNS),
                    rng.below(100_000),
                    rng.below(900),
                    rng.below(100)
                );
            } else {
                body.push_str(" />");
            }
            i += 1;
        }
    }
    let mut out = String::with_capacity(body.len() + 512);
    let _ = write!(
        out,
        r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="{failures}" skipped="{skipped}" tests="{tests}" time="1234.567" timestamp="2026-01-01T00:00:00.000000+00:00" hostname="ci">"#
    );
    out.push_str(&body);
    out.push_str("</testsuite></testsuites>\n");
    out
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_parseable() {
        let a = generate_junit(500, 0.02, 5);
        assert_eq!(a, generate_junit(500, 0.02, 5));
        let r = crate::ingest::parse(a.as_bytes()).unwrap();
        assert_eq!(r.tests.len(), 500);
        assert!(
            r.tests
                .iter()
                .all(|t| t.id.starts_with("tests/e2e/") && t.id.contains(".py::"))
        );
    }
}
