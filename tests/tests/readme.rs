//! The README's Rust examples compile against today's API: every ```rust block is wrapped in
//! an async function that provides the names the prose assumes (`client`, `arn`, `session`,
//! ...) and compiled with trybuild. A README that drifts from the API fails here.

const CONTEXT: &str = r#"
type AnyError = Box<dyn std::error::Error + Send + Sync>;
async fn snippet(
    client: agentcore_sdk::Client,
    arn: agentcore_sdk::RuntimeArn,
    session: agentcore_sdk::Session,
    yesterday: &str,
    branch: &str,
    message: &str,
) -> Result<(), AnyError> {
"#;

#[test]
fn readme_rust_blocks_compile() {
    let readme = include_str!("../../README.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```rust") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    assert!(blocks.len() >= 5, "found {} rust blocks", blocks.len());
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-snippets");
    std::fs::create_dir_all(&dir).unwrap();
    let t = trybuild::TestCases::new();
    for (i, block) in blocks.iter().enumerate() {
        // `use` lines go to the top of the file; the rest into the function body.
        let (uses, body): (Vec<&str>, Vec<&str>) = block
            .lines()
            .partition(|l| l.trim_start().starts_with("use "));
        let source = format!(
            "#![allow(unused, unreachable_code, clippy::all)]\n{}\n{CONTEXT}{}\n    Ok(())\n}}\nfn main() {{ let _ = snippet; }}\n",
            uses.join("\n"),
            body.join("\n")
        );
        let path = dir.join(format!("readme_block_{i}.rs"));
        std::fs::write(&path, source).unwrap();
        t.pass(&path);
    }
}
