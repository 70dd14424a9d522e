//! Procedural macros for [`agentcore-sdk`](https://docs.rs/agentcore-sdk) and `agentcore-local`:
//! use them as `agentcore_sdk::sh!` (re-exported by agentcore-sdk) and `#[agentcore_local::test]` (re-exported by agentcore-local, whose test support it expands to).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

/// One argument after the format string: `expr` or `name = expr`.
enum Arg {
    Positional(Expr),
    Named(Ident, Expr),
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            Ok(Arg::Named(name, input.parse()?))
        } else {
            Ok(Arg::Positional(input.parse()?))
        }
    }
}

struct ShInput {
    format: LitStr,
    args: Vec<Arg>,
}

impl Parse for ShInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let format: LitStr = input.parse()?;
        let mut args = Vec::new();
        if input.parse::<Option<Token![,]>>()?.is_some() {
            let rest = Punctuated::<Arg, Token![,]>::parse_terminated(input)?;
            args.extend(rest);
        }
        Ok(Self { format, args })
    }
}

/// A piece of the parsed format string.
#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Hole { target: Target, raw: bool },
}

#[derive(Debug, PartialEq)]
enum Target {
    Next,
    Index(usize),
    Name(String),
}

/// Parses `{}`, `{0}`, `{name}`, each optionally `:raw`; `{{` / `}}` escape braces.
fn parse_format(s: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                chars.next();
                text.push('}');
            }
            '}' => {
                return Err(format!(
                    "unmatched `}}` at byte {i}; write `}}}}` for a literal brace"
                ));
            }
            '{' => {
                let mut inner = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    if c == '{' {
                        return Err(format!(
                            "`{{` inside the placeholder that starts at byte {i}"
                        ));
                    }
                    inner.push(c);
                }
                if !closed {
                    return Err(format!(
                        "unclosed placeholder starting at byte {i}; write `{{{{` for a literal brace"
                    ));
                }
                let (name, spec) = match inner.split_once(':') {
                    Some((n, s)) => (n.trim(), Some(s.trim())),
                    None => (inner.trim(), None),
                };
                let raw = match spec {
                    None => false,
                    Some("raw") => true,
                    Some(other) => {
                        return Err(format!(
                            "unknown placeholder option `:{other}` in `{{{inner}}}`; the only option is `:raw` (insert without quoting)"
                        ));
                    }
                };
                let target = if name.is_empty() {
                    Target::Next
                } else if name.chars().all(|c| c.is_ascii_digit()) {
                    Target::Index(
                        name.parse()
                            .map_err(|_| format!("bad index in `{{{inner}}}`"))?,
                    )
                } else if is_ident(name) {
                    Target::Name(name.to_owned())
                } else {
                    return Err(format!(
                        "`{{{inner}}}` is not a placeholder: use `{{}}`, `{{0}}` or `{{name}}`, optionally with `:raw`"
                    ));
                };
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Hole { target, raw });
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
        && s != "_"
}

/// Builds a shell command from a format string, **quoting every interpolated value** for
/// POSIX shells so that no value can inject shell syntax.
///
/// Placeholders: `{}` (next argument), `{0}` (by index), `{name}` (a named argument or a
/// variable in scope, like `format!`). `{...:raw}` inserts a trusted fragment as is. `{{` and
/// `}}` are literal braces. The result is an `agentcore_sdk::Command`, accepted wherever the SDK
/// takes a command; its `Display` is the exact shell string that runs.
///
/// ```ignore
/// let dir = "/mnt/workspace/my repo";
/// let msg = "fix: don't drop $HOME";
/// let cmd = agentcore_sdk::sh!("cd {dir} && git commit -am {msg}");
/// assert_eq!(cmd.to_string(), r#"cd '/mnt/workspace/my repo' && git commit -am 'fix: don'\''t drop $HOME'"#);
/// ```
#[proc_macro]
pub fn sh(input: TokenStream) -> TokenStream {
    match expand_sh(syn::parse_macro_input!(input as ShInput)) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_sh(input: ShInput) -> syn::Result<TokenStream2> {
    let span = input.format.span();
    let pieces = parse_format(&input.format.value()).map_err(|m| syn::Error::new(span, m))?;
    let mut positional = Vec::new();
    let mut named: Vec<(Ident, Expr)> = Vec::new();
    for arg in input.args {
        match arg {
            Arg::Positional(e) => {
                if !named.is_empty() {
                    return Err(syn::Error::new_spanned(
                        e,
                        "positional arguments must come before named ones",
                    ));
                }
                positional.push(e);
            }
            Arg::Named(n, e) => {
                if named.iter().any(|(m, _)| m == &n) {
                    return Err(syn::Error::new(
                        n.span(),
                        format!("duplicate argument `{n}`"),
                    ));
                }
                named.push((n, e));
            }
        }
    }
    let mut used_pos = vec![false; positional.len()];
    let mut used_named = vec![false; named.len()];
    let mut next = 0usize;
    let mut steps = Vec::new();
    for piece in &pieces {
        match piece {
            Piece::Text(t) => steps.push(quote! { __sh.push_str(#t); }),
            Piece::Hole { target, raw } => {
                let value: TokenStream2 = match target {
                    Target::Next | Target::Index(_) => {
                        let i = match target {
                            Target::Index(i) => *i,
                            _ => {
                                next += 1;
                                next - 1
                            }
                        };
                        let e = positional.get(i).ok_or_else(|| {
                            syn::Error::new(
                                span,
                                format!("placeholder {} has no argument: {} positional argument(s) given", i, positional.len()),
                            )
                        })?;
                        used_pos[i] = true;
                        quote! { &(#e) }
                    }
                    Target::Name(n) => match named.iter().position(|(m, _)| m == n) {
                        Some(i) => {
                            used_named[i] = true;
                            let e = &named[i].1;
                            quote! { &(#e) }
                        }
                        None => {
                            let ident = Ident::new(n, span);
                            quote! { &#ident }
                        }
                    },
                };
                steps.push(if *raw {
                    quote! { __sh.push_str(&::std::string::ToString::to_string(#value)); }
                } else {
                    quote! { ::agentcore_sdk::Command::push_quoted(&mut __sh, &::std::string::ToString::to_string(#value)); }
                });
            }
        }
    }
    if let Some(i) = used_pos.iter().position(|u| !u) {
        return Err(syn::Error::new_spanned(
            &positional[i],
            "argument never used in the format string",
        ));
    }
    if let Some(i) = used_named.iter().position(|u| !u) {
        return Err(syn::Error::new(
            named[i].0.span(),
            format!("named argument `{}` never used", named[i].0),
        ));
    }
    Ok(quote! {
        {
            let mut __sh = ::std::string::String::new();
            #(#steps)*
            ::agentcore_sdk::Command::raw(__sh)
        }
    })
}

/// Options of `#[agentcore_local::test(...)]`.
#[derive(Default)]
struct TestOptions {
    mount_path: Option<LitStr>,
    agent: Option<LitStr>,
}

impl Parse for TestOptions {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut opts = TestOptions::default();
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: LitStr = input.parse()?;
            match key.to_string().as_str() {
                "mount_path" => opts.mount_path = Some(value),
                "agent" => opts.agent = Some(value),
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown option `{other}`; expected `mount_path = \"/mnt/...\"` or `agent = \"COMMAND\"`"
                        ),
                    ));
                }
            }
            if input.parse::<Option<Token![,]>>()?.is_none() {
                break;
            }
        }
        Ok(opts)
    }
}

/// Turns an `async fn` into a test that gets a ready, isolated AgentCore session — like
/// `#[sqlx::test]`: a local runtime (`agentcore-local`, which must be a dev-dependency) is
/// started in a temporary directory, a runtime with session storage at `/mnt/workspace` is
/// created, and the test's parameters are filled by type:
/// `Session`, `Client`, `RuntimeArn`, `&LocalRuntime`. Everything is cleaned up afterwards.
/// The test may return `()` or `Result<(), E: Debug>`.
///
/// ```ignore
/// #[agentcore_local::test]
/// async fn builds(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
///     let out = session.run("echo hi > /mnt/workspace/f && cat /mnt/workspace/f").await?;
///     assert_eq!(out.stdout, "hi\n");
///     Ok(())
/// }
/// ```
///
/// Options: `#[agentcore_local::test(mount_path = "/mnt/data", agent = "python3 agent.py")]`.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    let opts = syn::parse_macro_input!(attr as TestOptions);
    let func = syn::parse_macro_input!(item as syn::ItemFn);
    match expand_test(opts, func) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_test(opts: TestOptions, func: syn::ItemFn) -> syn::Result<TokenStream2> {
    if func.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            func.sig.fn_token,
            "#[agentcore_local::test] needs an `async fn`",
        ));
    }
    if !func.sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &func.sig.generics,
            "test functions cannot be generic",
        ));
    }
    let name = &func.sig.ident;
    let inner = format_ident!("__agentcore_test_{}", name);
    let attrs = &func.attrs;
    let vis = &func.vis;
    let mut inner_fn = func.clone();
    inner_fn.sig.ident = inner.clone();
    inner_fn.attrs.clear();
    let mut call_args = Vec::new();
    for input in &func.sig.inputs {
        let syn::FnArg::Typed(pat) = input else {
            return Err(syn::Error::new_spanned(
                input,
                "test functions cannot take `self`",
            ));
        };
        let (is_ref, last) = match &*pat.ty {
            syn::Type::Reference(r) => (true, last_segment(&r.elem)),
            other => (false, last_segment(other)),
        };
        let arg = match (last.as_deref(), is_ref) {
            (Some("Session"), false) => quote! { __ctx.session.clone() },
            (Some("Client"), false) => quote! { __ctx.client.clone() },
            (Some("RuntimeArn"), false) => quote! { __ctx.arn.clone() },
            (Some("LocalRuntime"), true) => quote! { &__ctx.local },
            _ => {
                return Err(syn::Error::new_spanned(
                    &pat.ty,
                    "unsupported parameter type; use `Session`, `Client`, `RuntimeArn` or `&LocalRuntime`",
                ));
            }
        };
        call_args.push(arg);
    }
    let mount = opts
        .mount_path
        .map(|m| quote! { ::std::option::Option::Some(#m) })
        .unwrap_or_else(|| quote! { ::std::option::Option::None });
    let agent = opts
        .agent
        .map(|a| quote! { ::std::option::Option::Some(#a) })
        .unwrap_or_else(|| quote! { ::std::option::Option::None });
    let test_name = LitStr::new(&name.to_string(), Span::call_site());
    Ok(quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() {
            #inner_fn
            ::agentcore_local::testing::run_test(#test_name, #mount, #agent, |__ctx| async move {
                // Move the whole context in: the local runtime must outlive the test body.
                let __ctx = __ctx;
                let __result = #inner(#(#call_args),*).await;
                ::agentcore_local::testing::TestResult::into_test_result(__result)
            });
        }
    })
}

fn last_segment(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[::core::prelude::v1::test]
    fn parses_placeholders() {
        assert_eq!(
            parse_format("a {} {x} {0:raw} {{b}}").unwrap(),
            vec![
                Piece::Text("a ".into()),
                Piece::Hole {
                    target: Target::Next,
                    raw: false
                },
                Piece::Text(" ".into()),
                Piece::Hole {
                    target: Target::Name("x".into()),
                    raw: false
                },
                Piece::Text(" ".into()),
                Piece::Hole {
                    target: Target::Index(0),
                    raw: true
                },
                Piece::Text(" {b}".into()),
            ]
        );
        assert!(parse_format("{").is_err());
        assert!(parse_format("}").is_err());
        assert!(parse_format("{a b}").is_err());
        assert!(parse_format("{x:?}").is_err());
    }
}
