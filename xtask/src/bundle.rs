//! The dashboard's bundle after Trunk: what `cargo xtask dist` does to the wasm and its
//! JavaScript glue before they are compressed and shipped.
//!
//! Trunk runs cargo and wasm-bindgen and stops there (`data-wasm-opt="0"` in `index.html`).
//! Then, in this order:
//!
//! 1. The three JavaScript classes that `wasm-streams` exports (`IntoUnderlyingSource`,
//!    `IntoUnderlyingSink`, `IntoUnderlyingByteSource`) leave the glue, and their functions
//!    leave the wasm's exports. `leptos` always depends on `server_fn`, which depends on
//!    `wasm-streams`; the dashboard has no server functions and never hands a stream to the
//!    browser, so nothing can construct them.
//! 2. `wasm-opt -Oz`, which now also drops the code behind those exports.
//! 3. Every import and export gets a short name. wasm-bindgen names each import after its
//!    Rust function plus a 16-hex-digit hash (`__wbg_setAttribute_5a7d…`), and the name is
//!    written twice, once in the wasm and once in the glue; the hashes do not compress.
//!    The glue's import functions that the optimized wasm no longer imports go too. The
//!    `memory` export keeps its name: it is the module's one export others read.
//! 4. esbuild minifies the glue and the style sheet.
//! 5. The glue, the wasm and the style sheet are named after a hash of what is shipped
//!    (Trunk named them after its input), and `index.html` links them by those names,
//!    with `integrity` hashes to match. The registry caches hashed names for a year, so a
//!    change in this step alone must give new names too.
//!
//! Each edit of the glue checks that it found the shape wasm-bindgen 0.2.130 writes and
//! fails the build otherwise, so an upgrade that changes the glue stops here instead of
//! shipping a dashboard that cannot start. The end-to-end suite runs the result.
//!
//! Measured on the same build (BENCHMARKS.md): 213.0 KB → 199.1 KB gzip, with the
//! dashboard's own reductions of that round.

use crate::{run, tools};
use anyhow::{bail, ensure, Context, Result};
use base64::Engine as _;
use sha2::Digest as _;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use wasmparser::BinaryReader;

/// The glue's name for the wasm's one import module; it becomes [`SHORT_MODULE`].
const GLUE_MODULE: &str = "./fleet-dashboard_bg.js";
const SHORT_MODULE: &str = "a";
/// The `wasm-streams` classes (step 1), and what their wasm exports' names contain
/// (`intounderlyingsource_pull`, `__wbg_intounderlyingsink_free`, …).
const STREAM_CLASSES: [&str; 3] = [
    "IntoUnderlyingByteSource",
    "IntoUnderlyingSink",
    "IntoUnderlyingSource",
];
const STREAM_EXPORTS: &str = "intounderlying";
/// The one export that keeps its name: others read the module's memory by it.
const KEPT_EXPORT: &str = "memory";
/// How the glue writes one import function: eight spaces, the name, `: function(`.
const IMPORT_INDENT: &str = "        ";
const IMPORTS_END: &str = "    };";

/// Step 2. `--low-memory-unused` states a fact binaryen cannot prove: no load or store
/// touches an address below 1024, so a constant added to a pointer can move into the
/// instruction's offset (about 1.3 KB gzip). Rust's wasm32 layout puts the shadow stack
/// first, growing down from 1 MiB toward 0, with data and heap above it; only a stack
/// already 1,047,552 bytes deep would reach there.
const WASM_OPT_FLAGS: [&str; 3] = ["-Oz", "--enable-reference-types", "--low-memory-unused"];

/// Steps 1–5 on the app in `dist`.
pub fn finish(dist: &Path) -> Result<()> {
    let glue_name = file_named(dist, "fleet-dashboard-", ".js")?;
    let wasm_name = glue_name.replace(".js", "_bg.wasm");
    let (glue_path, wasm_path) = (dist.join(&glue_name), dist.join(&wasm_name));
    let glue = without_stream_classes(&std::fs::read_to_string(&glue_path)?)?;
    let wasm = rewrite_exports(&std::fs::read(&wasm_path)?, |name| {
        Some(name)
            .filter(|n| !n.contains(STREAM_EXPORTS))
            .map(str::to_owned)
    })?;
    std::fs::write(&wasm_path, wasm)?;
    run(Command::new(tools::wasm_opt())
        .args(WASM_OPT_FLAGS)
        .arg("--output")
        .arg(&wasm_path)
        .arg(&wasm_path))?;
    let wasm = without_custom_sections(&std::fs::read(&wasm_path)?)?;
    let (wasm, glue) = shorten_names(&wasm, &glue)?;
    std::fs::write(&wasm_path, &wasm)?;
    std::fs::write(&glue_path, &glue)?;
    minify(&glue_path, &["--format=esm", "--tree-shaking=true"])?;
    let css_name = file_named(dist, "main-", ".css")?;
    minify(&dist.join(&css_name), &[])?;
    let index_path = dist.join("index.html");
    let mut index = std::fs::read_to_string(&index_path)?;
    for (name, stem, suffix) in [
        (&glue_name, "fleet-dashboard-", ".js"),
        (&wasm_name, "fleet-dashboard-", "_bg.wasm"),
        (&css_name, "main-", ".css"),
    ] {
        let content = std::fs::read(dist.join(name))?;
        let hashed = format!("{stem}{}{suffix}", content_hash(&content));
        ensure!(
            index.contains(&format!("/{name}")),
            "index.html does not name /{name}"
        );
        std::fs::rename(dist.join(name), dist.join(&hashed))?;
        index = index.replace(&format!("/{name}"), &format!("/{hashed}"));
        index = with_integrity(&index, &hashed, &content)?;
    }
    std::fs::write(index_path, index)?;
    Ok(())
}

/// A name that changes with the content (FNV-1a, 16 hex digits): for caching, not security.
pub fn content_hash(content: &[u8]) -> String {
    let hash = content.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The one file in `dist` named `{prefix}*{suffix}`.
fn file_named(dist: &Path, prefix: &str, suffix: &str) -> Result<String> {
    std::fs::read_dir(dist)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|n| n.starts_with(prefix) && n.ends_with(suffix))
        .with_context(|| format!("dist/ has no {prefix}*{suffix}"))
}

/// Minifies a JavaScript or CSS file in place with esbuild.
pub fn minify(path: &Path, options: &[&str]) -> Result<()> {
    run(Command::new(tools::esbuild())
        .arg(path)
        .arg("--minify")
        .args(options)
        .args(["--log-level=warning", "--allow-overwrite"])
        .arg(format!("--outfile={}", path.display())))
}

/// The glue without the `wasm-streams` classes and their finalization registries.
fn without_stream_classes(glue: &str) -> Result<String> {
    let mut glue = glue.to_owned();
    for class in STREAM_CLASSES {
        let open = format!("export class {class} {{\n");
        let dispose = format!(
            "if (Symbol.dispose) {class}.prototype[Symbol.dispose] = {class}.prototype.free;\n"
        );
        glue = cut(&glue, &open, &dispose)?;
        glue = cut(&glue, &format!("const {class}Finalization = "), ");\n")?;
    }
    ensure!(
        !glue.contains("IntoUnderlying"),
        "the glue still names a wasm-streams class after they were cut"
    );
    Ok(glue)
}

/// `text` without the first span that starts with `start` and ends with the next `end`.
fn cut(text: &str, start: &str, end: &str) -> Result<String> {
    let from = text
        .find(start)
        .with_context(|| format!("the glue has no {start:?}"))?;
    let to = from
        + text[from..]
            .find(end)
            .with_context(|| format!("the glue has no {end:?} after {start:?}"))?
        + end.len();
    Ok(format!("{}{}", &text[..from], &text[to..]))
}

/// Step 3: the wasm and glue with short import and export names, and without the glue's
/// import functions the wasm does not import.
fn shorten_names(wasm: &[u8], glue: &str) -> Result<(Vec<u8>, String)> {
    let mut imports = BTreeMap::new();
    let wasm = rewrite_imports(wasm, |module, name| {
        if module != GLUE_MODULE {
            return (module.to_owned(), name.to_owned());
        }
        let next = short_name(imports.len());
        let short = imports.entry(name.to_owned()).or_insert(next);
        (SHORT_MODULE.to_owned(), short.clone())
    })?;
    let mut exports = BTreeMap::new();
    let wasm = rewrite_exports(&wasm, |name| {
        if name == KEPT_EXPORT {
            return Some(name.to_owned());
        }
        let short = format!("_{}", short_name(exports.len()));
        Some(exports.entry(name.to_owned()).or_insert(short).clone())
    })?;
    let glue = rename_import_functions(glue, &imports)?;
    let module_key = format!("\"{GLUE_MODULE}\": import0,");
    ensure!(
        glue.matches(&module_key).count() == 1,
        "the glue does not return its imports as {module_key}"
    );
    let glue = glue.replace(&module_key, &format!("{SHORT_MODULE}: import0,"));
    Ok((wasm, rename_export_uses(&glue, &exports)?))
}

/// `a`, `b`, … `Z`, then `ba`, `bb`, …: a JavaScript identifier for every number.
fn short_name(mut n: usize) -> String {
    const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$";
    let mut name = vec![FIRST[n % FIRST.len()]];
    n /= FIRST.len();
    while n > 0 {
        name.push(REST[n % REST.len()]);
        n /= REST.len();
    }
    String::from_utf8(name).unwrap_or_default()
}

/// The glue's `import0` object with each function under its short name; functions the wasm
/// no longer imports are left out.
fn rename_import_functions(glue: &str, imports: &BTreeMap<String, String>) -> Result<String> {
    let start = glue
        .find("    const import0 = {\n")
        .context("the glue has no import0 object")?;
    let end = start
        + glue[start..]
            .find(&format!("\n{IMPORTS_END}\n"))
            .context("the glue's import0 object has no end")?
        + 1;
    let mut kept = String::new();
    let mut keep = true;
    let mut renamed = BTreeSet::new();
    for line in glue[start..end].split_inclusive('\n') {
        if let Some(name) = import_function_name(line) {
            keep = match imports.get(name) {
                Some(short) => {
                    renamed.insert(name);
                    kept.push_str(&line.replacen(name, short, 1));
                    true
                }
                None => false,
            };
        } else if keep {
            kept.push_str(line);
        }
    }
    let missing: Vec<_> = imports
        .keys()
        .filter(|n| !renamed.contains(n.as_str()))
        .collect();
    if !missing.is_empty() {
        bail!("the wasm imports functions the glue does not define: {missing:?}");
    }
    Ok(format!("{}{kept}{}", &glue[..start], &glue[end..]))
}

/// The name of the import function a line of `import0` starts, if it starts one.
fn import_function_name(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(IMPORT_INDENT)?;
    let (name, _) = rest.split_once(": function(")?;
    name.bytes().all(is_ident).then_some(name)
}

/// A byte of a JavaScript identifier (ASCII).
fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// The glue with every `wasm.<export>` under the export's short name. Any other use of the
/// wasm's exports (`wasm.` and a name the wasm does not export, `wasm[…]`) fails: the glue
/// would call a function that no longer exists.
fn rename_export_uses(glue: &str, exports: &BTreeMap<String, String>) -> Result<String> {
    ensure!(
        !glue.contains("wasm["),
        "the glue indexes the wasm's exports"
    );
    let mut out = String::with_capacity(glue.len());
    let mut rest = glue;
    while let Some(at) = rest.find("wasm.") {
        let starts_word = at == 0 || !is_ident(rest.as_bytes()[at - 1]);
        let (before, after) = rest.split_at(at + "wasm.".len());
        out.push_str(before);
        let len = after.bytes().take_while(|b| is_ident(*b)).count();
        let name = &after[..len];
        match exports.get(name) {
            Some(short) if starts_word => out.push_str(short),
            None if starts_word && name != KEPT_EXPORT => {
                bail!("the glue uses wasm.{name}, which the wasm does not export")
            }
            _ => out.push_str(name),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `index.html` with the `integrity` of the tag that links `/name` set to `content`'s hash.
fn with_integrity(index: &str, name: &str, content: &[u8]) -> Result<String> {
    let link = index
        .find(&format!("href=\"/{name}\""))
        .with_context(|| format!("index.html does not link /{name}"))?;
    let tag_start = index[..link].rfind('<').unwrap_or(0);
    let tag_end = link + index[link..].find('>').context("unclosed tag")?;
    let attr = "integrity=\"";
    let value = tag_start
        + index[tag_start..tag_end]
            .find(attr)
            .with_context(|| format!("the tag that links /{name} has no integrity"))?
        + attr.len();
    let value_end = value + index[value..].find('"').context("unclosed integrity")?;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(content));
    Ok(format!(
        "{}sha384-{hash}{}",
        &index[..value],
        &index[value_end..]
    ))
}

/// The module without custom sections (`producers`, `target_features` and the like): the
/// browser reads none of them.
fn without_custom_sections(wasm: &[u8]) -> Result<Vec<u8>> {
    rebuild(wasm, |id, body| {
        Ok((id != CUSTOM_SECTION).then(|| body.to_vec()))
    })
}

/// The module's sections as (id, body), in order.
fn sections(wasm: &[u8]) -> Result<Vec<(u8, &[u8])>> {
    ensure!(wasm.starts_with(b"\0asm"), "not a wasm module");
    let mut reader = BinaryReader::new(&wasm[8..], 8);
    let mut sections = Vec::new();
    while !reader.eof() {
        let id = reader.read_u8()?;
        let size = reader.read_var_u32()? as usize;
        sections.push((id, reader.read_bytes(size)?));
    }
    Ok(sections)
}

/// The module with each section replaced by what `edit` makes of it (id, body), or left
/// out where it returns `None`.
fn rebuild(
    wasm: &[u8],
    mut edit: impl FnMut(u8, &[u8]) -> Result<Option<Vec<u8>>>,
) -> Result<Vec<u8>> {
    let mut out = wasm[..8].to_vec();
    for (id, body) in sections(wasm)? {
        if let Some(body) = edit(id, body)? {
            out.push(id);
            push_leb(&mut out, body.len());
            out.extend_from_slice(&body);
        }
    }
    Ok(out)
}

/// The module with the body of the section of id `id` replaced by `rewrite`'s.
fn rewrite_section(
    wasm: &[u8],
    id: u8,
    mut rewrite: impl FnMut(&[u8]) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    rebuild(wasm, |section, body| match section == id {
        true => rewrite(body).map(Some),
        false => Ok(Some(body.to_vec())),
    })
}

const CUSTOM_SECTION: u8 = 0;
const IMPORT_SECTION: u8 = 2;
const EXPORT_SECTION: u8 = 7;

/// The module with each import's (module, name) replaced by `rename`'s.
fn rewrite_imports(
    wasm: &[u8],
    mut rename: impl FnMut(&str, &str) -> (String, String),
) -> Result<Vec<u8>> {
    rewrite_section(wasm, IMPORT_SECTION, |body| {
        let mut reader = BinaryReader::new(body, 0);
        let count = reader.read_var_u32()?;
        let mut out = Vec::new();
        push_leb(&mut out, count as usize);
        for _ in 0..count {
            let (module, name) = (reader.read_string()?, reader.read_string()?);
            let from = reader.original_position();
            reader.read::<wasmparser::TypeRef>()?;
            let (module, name) = rename(module, name);
            push_name(&mut out, &module);
            push_name(&mut out, &name);
            out.extend_from_slice(&body[from..reader.original_position()]);
        }
        Ok(out)
    })
}

/// The module with each export renamed by `rename`, or left out where it returns `None`.
fn rewrite_exports(wasm: &[u8], mut rename: impl FnMut(&str) -> Option<String>) -> Result<Vec<u8>> {
    rewrite_section(wasm, EXPORT_SECTION, |body| {
        let mut reader = BinaryReader::new(body, 0);
        let count = reader.read_var_u32()?;
        let mut kept = 0;
        let mut entries = Vec::new();
        for _ in 0..count {
            let name = reader.read_string()?;
            let from = reader.original_position();
            reader.read_u8()?;
            reader.read_var_u32()?;
            if let Some(name) = rename(name) {
                push_name(&mut entries, &name);
                entries.extend_from_slice(&body[from..reader.original_position()]);
                kept += 1;
            }
        }
        let mut out = Vec::new();
        push_leb(&mut out, kept);
        out.extend_from_slice(&entries);
        Ok(out)
    })
}

fn push_name(out: &mut Vec<u8>, name: &str) {
    push_leb(out, name.len());
    out.extend_from_slice(name.as_bytes());
}

/// Unsigned LEB128.
fn push_leb(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_distinct_identifiers() {
        let names: BTreeSet<_> = (0..5000).map(short_name).collect();
        assert_eq!(names.len(), 5000);
        assert_eq!(short_name(0), "a");
        assert_eq!(short_name(52), "ab");
        assert!(names
            .iter()
            .all(|n| !n.as_bytes()[0].is_ascii_digit() && n.len() <= 3));
    }

    #[test]
    fn export_uses_are_renamed_only_after_wasm_dot() {
        let exports = BTreeMap::from([
            ("f_long".to_owned(), "_a".to_owned()),
            ("f".to_owned(), "_b".to_owned()),
        ]);
        let glue = "function f_long() { wasm.f_long(wasm.f, wasm.memory); mywasm.g(); }";
        assert_eq!(
            rename_export_uses(glue, &exports).expect("renamed"),
            "function f_long() { wasm._a(wasm._b, wasm.memory); mywasm.g(); }"
        );
        assert!(rename_export_uses("wasm.gone()", &exports).is_err());
        assert!(rename_export_uses("wasm['f']()", &exports).is_err());
    }

    /// The shape wasm-bindgen 0.2.130 writes for an exported class, trimmed.
    const STREAM_CLASS: &str = "export class IntoUnderlyingSink {\n    free() {\n        IntoUnderlyingSinkFinalization.unregister(this);\n    }\n}\nif (Symbol.dispose) IntoUnderlyingSink.prototype[Symbol.dispose] = IntoUnderlyingSink.prototype.free;\n";

    #[test]
    fn stream_classes_leave_the_glue_and_nothing_else_does() {
        let classes: String = STREAM_CLASSES
            .iter()
            .map(|c| STREAM_CLASS.replace("IntoUnderlyingSink", c))
            .collect();
        let registries: String = STREAM_CLASSES
            .iter()
            .map(|c| format!("const {c}Finalization = (typeof FinalizationRegistry === 'undefined')\n    ? {{ register: () => {{}}, unregister: () => {{}} }}\n    : new FinalizationRegistry(ptr => wasm.__wbg_x_free(ptr, 1));\n"))
            .collect();
        let glue = format!("{classes}function keep() {{}}\n{registries}const CLOSURE_DTORS = 1;\n");
        assert_eq!(
            without_stream_classes(&glue).expect("cut"),
            "function keep() {}\nconst CLOSURE_DTORS = 1;\n"
        );
        assert!(without_stream_classes("function keep() {}").is_err());
    }

    #[test]
    fn unused_import_functions_leave_the_glue() {
        let glue = "x\n    const import0 = {\n        __proto__: null,\n        keep_1: function(a) {\n            return a;\n        },\n        drop_2: function() { return handleError(function () {\n        }, arguments); },\n    };\ny";
        let imports = BTreeMap::from([("keep_1".to_owned(), "k".to_owned())]);
        assert_eq!(
            rename_import_functions(glue, &imports).expect("renamed"),
            "x\n    const import0 = {\n        __proto__: null,\n        k: function(a) {\n            return a;\n        },\n    };\ny"
        );
        let missing = BTreeMap::from([("gone".to_owned(), "g".to_owned())]);
        assert!(rename_import_functions(glue, &missing).is_err());
    }

    #[test]
    fn integrity_follows_the_content_of_the_linked_file() {
        let index = r#"<link rel="modulepreload" href="/app.js" integrity="sha384-js"><link rel="preload" href="/app.wasm" integrity="sha384-old" as="fetch">"#;
        let updated = with_integrity(index, "app.wasm", b"abc").expect("updated");
        assert_eq!(
            updated,
            r#"<link rel="modulepreload" href="/app.js" integrity="sha384-js"><link rel="preload" href="/app.wasm" integrity="sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn" as="fetch">"#
        );
    }

    /// One section: id, size, body.
    fn section(id: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![id];
        push_leb(&mut out, body.len());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn imports_and_exports_get_short_names_and_other_sections_stay() {
        // (module (import "./fleet-dashboard_bg.js" "__wbg_f_012" (func))
        //         (func (export "run")) (memory (export "memory") 1))
        let mut imports = vec![1];
        push_name(&mut imports, GLUE_MODULE);
        push_name(&mut imports, "__wbg_f_012");
        imports.extend_from_slice(&[0, 0]);
        let mut exports = vec![2];
        push_name(&mut exports, "run");
        exports.extend_from_slice(&[0, 1]);
        push_name(&mut exports, "memory");
        exports.extend_from_slice(&[2, 0]);
        let code = section(10, &[1, 2, 0, 0x0b]);
        let wasm = [
            b"\0asm\x01\0\0\0".to_vec(),
            section(1, &[1, 0x60, 0, 0]),
            section(2, &imports),
            section(3, &[1, 0]),
            section(5, &[1, 0, 1]),
            section(7, &exports),
            code.clone(),
        ]
        .concat();
        let glue = format!(
            "    const import0 = {{\n        __wbg_f_012: function() {{\n        }},\n    }};\n    return {{ \"{GLUE_MODULE}\": import0, }};\n wasm.run(); wasm.memory;"
        );
        let (short, glue) = shorten_names(&wasm, &glue).expect("shortened");
        let ids: Vec<_> = sections(&short)
            .expect("sections")
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, [1, 2, 3, 5, 7, 10]);
        let mut imports = vec![1];
        push_name(&mut imports, SHORT_MODULE);
        push_name(&mut imports, "a");
        imports.extend_from_slice(&[0, 0]);
        assert!(short.ends_with(&code));
        assert!(short.windows(imports.len()).any(|w| w == imports));
        assert!(glue.contains("        a: function()"));
        assert!(glue.contains("{ a: import0, }"));
        assert!(glue.ends_with("wasm._a(); wasm.memory;"));
        let stripped =
            rewrite_exports(&wasm, |n| (n != "run").then(|| n.to_owned())).expect("stripped");
        let with_custom = [wasm.clone(), section(0, b"\x09producers\x00")].concat();
        assert_eq!(
            without_custom_sections(&with_custom).expect("stripped"),
            wasm
        );
        let mut exports = vec![1];
        push_name(&mut exports, "memory");
        exports.extend_from_slice(&[2, 0]);
        assert!(stripped.windows(exports.len()).any(|w| w == exports));
    }
}
