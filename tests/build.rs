//! Writes the README's ```rust blocks into `$OUT_DIR/readme_blocks.rs`, each as a module with
//! an async function that provides the names the prose assumes (`client`, `arn`, `session`,
//! ...), so `tests/readme.rs` compiles them with the rest of the tests (no second build of the
//! dependency tree).

use std::fmt::Write as _;

const CONTEXT: &str = r#"
    type AnyError = Box<dyn std::error::Error + Send + Sync>;
    pub async fn snippet(
        client: agentcore_sdk::Client,
        arn: agentcore_sdk::RuntimeArn,
        session: agentcore_sdk::Session,
        yesterday: &str,
        branch: &str,
        message: &str,
    ) -> Result<(), AnyError> {
"#;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let readme_path = std::path::Path::new(&manifest).join("../README.md");
    println!("cargo:rerun-if-changed={}", readme_path.display());
    let readme = std::fs::read_to_string(&readme_path).expect("README.md");
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in readme.lines().enumerate() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```rust") => current = Some((n + 2, String::new())),
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some((_, b)), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    let mut out = String::new();
    for (i, (line, block)) in blocks.iter().enumerate() {
        // `use` lines go to the top of the module; the rest into the function body.
        let (uses, body): (Vec<&str>, Vec<&str>) = block
            .lines()
            .partition(|l| l.trim_start().starts_with("use "));
        let _ = write!(
            out,
            "/// README.md, the block from line {line}.\n\
             #[allow(unused, unreachable_code, clippy::all)]\n\
             pub mod readme_block_{i} {{\n{}\n{CONTEXT}{}\n    Ok(())\n    }}\n}}\n\n",
            uses.join("\n"),
            body.join("\n")
        );
    }
    let _ = writeln!(
        out,
        "/// How many blocks there are.\npub const BLOCKS: usize = {};",
        blocks.len()
    );
    let dest =
        std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("readme_blocks.rs");
    std::fs::write(dest, out).expect("writing readme_blocks.rs");
}
