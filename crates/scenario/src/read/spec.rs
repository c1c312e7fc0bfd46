//! The `[sweep]` and `[slo]` tables (their meaning is in `crate::spec`).

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::Walker;
use crate::diagnostic::Diagnostic;
use crate::spec::{Axis, MAX_POINTS, Setting, Slo, SweepSpec, SweepValue, Variant};

pub(crate) const SLO_KEYS: [&str; 6] = ["mean", "p50", "p90", "p99", "p999", "max_error_rate"];
pub(crate) const SWEEP_VARIANT_KEYS: [&str; 2] = ["name", "set"];

/// A dotted path, where it is written, and its value.
type Entry<'t, 'i> = (String, Range<usize>, &'t toml::Spanned<DeValue<'i>>);

/// Flattens nested tables into dotted paths, so that `a.b = 1` (nested
/// tables in TOML) and `"a.b" = 1` (one quoted key) mean the same. A path is
/// located from its first key to its last when they are on one line (a
/// dotted key), else at its last key.
fn flatten<'t, 'i>(
    src: &str,
    prefix: Option<(&str, Range<usize>)>,
    table: &'t DeTable<'i>,
    out: &mut Vec<Entry<'t, 'i>>,
) {
    for (key, value) in table.iter() {
        let (path, at) = match &prefix {
            None => (key.get_ref().to_string(), key.span()),
            Some((p, at)) => {
                let joined = at.start..key.span().end;
                let one_line = src.get(joined.clone()).is_some_and(|t| !t.contains('\n'));
                let at = if one_line { joined } else { key.span() };
                (format!("{p}.{}", key.get_ref()), at)
            }
        };
        match value.get_ref() {
            DeValue::Table(t) => flatten(src, Some((&path, at)), t, out),
            _ => out.push((path, at, value)),
        }
    }
}

impl Walker<'_> {
    fn sweep_value(&mut self, value: &toml::Spanned<DeValue<'_>>) -> Option<SweepValue> {
        let span = value.span();
        match self.src.get(span.clone()) {
            Some(text) if !matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_)) => {
                Some(SweepValue {
                    text: text.to_owned(),
                    span,
                })
            }
            _ => {
                self.error("a sweep value must be a string, number or boolean", span);
                None
            }
        }
    }

    fn sweep_path(&mut self, path: &str, span: Range<usize>) -> bool {
        if path.starts_with("sweep") || path.starts_with("slo") {
            self.error(
                format!("`{path}`: a sweep cannot change the sweep or the SLO"),
                span,
            );
            return false;
        }
        true
    }

    /// Reads `[sweep]`; `Some(None)` when there is none, `None` on error.
    pub(crate) fn sweep(&mut self, doc: &DeTable<'_>) -> Option<Option<SweepSpec>> {
        let Some(value) = doc.get("sweep") else {
            return Some(None);
        };
        let sweep_span = doc.get_key_value("sweep").map_or(0..0, |(k, _)| k.span());
        let table = self.table(value, "`sweep`")?;
        let mut ok = true;
        let mut axes = Vec::new();
        let mut variants = Vec::new();
        let mut entries = Vec::new();
        for (key, value) in table.iter() {
            if key.get_ref() == "variant" {
                continue;
            }
            match value.get_ref() {
                DeValue::Table(t) => {
                    flatten(self.src, Some((key.get_ref(), key.span())), t, &mut entries)
                }
                _ => entries.push((key.get_ref().to_string(), key.span(), value)),
            }
        }
        for (path, path_at, value) in entries {
            if !self.sweep_path(&path, value.span()) {
                ok = false;
                continue;
            }
            let DeValue::Array(items) = value.get_ref() else {
                self.error(
                    format!("`{path}` in [sweep] must be an array of values"),
                    value.span(),
                )
                .help = Some(format!("such as \"{path}\" = [1, 2, 4]"));
                ok = false;
                continue;
            };
            if items.is_empty() {
                self.error(format!("`{path}` in [sweep] has no value"), value.span());
                ok = false;
                continue;
            }
            let values: Vec<Option<SweepValue>> =
                items.iter().map(|v| self.sweep_value(v)).collect();
            match values.into_iter().collect::<Option<Vec<_>>>() {
                Some(values) => axes.push(Axis {
                    path,
                    path_at,
                    values,
                }),
                None => ok = false,
            }
        }
        if let Some(list) = table.get("variant") {
            match list.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        let Some(t) = self.table(item, "a [[sweep.variant]]") else {
                            ok = false;
                            continue;
                        };
                        self.check_keys(t, &SWEEP_VARIANT_KEYS, "[[sweep.variant]]");
                        let name = match t.get("name") {
                            Some(v) => self.string(v, "`name`").map(str::to_owned),
                            None => {
                                self.error("a variant needs a `name`", item.span());
                                None
                            }
                        };
                        if let Some(n) = &name
                            && variants.iter().any(|v: &Variant| &v.name == n)
                        {
                            let span = t.get("name").map_or(item.span(), toml::Spanned::span);
                            self.error(format!("two variants are named `{n}`"), span);
                            ok = false;
                        }
                        let mut set = Vec::new();
                        if let Some(s) = t.get("set")
                            && let Some(s) = self.table(s, "`set`")
                        {
                            let mut entries = Vec::new();
                            flatten(self.src, None, s, &mut entries);
                            for (path, path_at, value) in entries {
                                if !self.sweep_path(&path, value.span()) {
                                    ok = false;
                                } else if let Some(value) = self.sweep_value(value) {
                                    set.push(Setting {
                                        path,
                                        path_at,
                                        value,
                                    });
                                } else {
                                    ok = false;
                                }
                            }
                        }
                        match name {
                            Some(name) => variants.push(Variant { name, set }),
                            None => ok = false,
                        }
                    }
                }
                _ => {
                    self.error(
                        "`variant` must be written as [[sweep.variant]] tables",
                        list.span(),
                    );
                    ok = false;
                }
            }
        }
        let spec = SweepSpec { axes, variants };
        if ok && spec.axes.is_empty() && spec.variants.is_empty() {
            self.diags.push(
                Diagnostic::error("[sweep] has nothing to sweep", Some(sweep_span.clone()))
                    .with_help("add a grid such as \"services.q.servers\" = [1, 2, 4], or [[sweep.variant]] tables"),
            );
            ok = false;
        }
        if ok && spec.len() > MAX_POINTS {
            self.error(
                format!(
                    "the sweep has {} points, more than {MAX_POINTS}",
                    spec.len()
                ),
                sweep_span,
            );
            ok = false;
        }
        ok.then_some(Some(spec))
    }

    /// Reads `[slo]`; `Some(None)` when there is none, `None` on error.
    pub(crate) fn slo(&mut self, doc: &DeTable<'_>) -> Option<Option<Slo>> {
        let Some(value) = doc.get("slo") else {
            return Some(None);
        };
        let table = self.table(value, "`slo`")?;
        self.check_keys(table, &SLO_KEYS, "[slo]");
        let mut ok = true;
        let mut duration = |w: &mut Self, key: &str| match table.get(key) {
            Some(v) => {
                let d = w.duration(v, &format!("`{key}`"));
                ok &= d.is_some();
                d
            }
            None => None,
        };
        let mean = duration(self, "mean");
        let p50 = duration(self, "p50");
        let p90 = duration(self, "p90");
        let p99 = duration(self, "p99");
        let p999 = duration(self, "p999");
        let max_error_rate = match table.get("max_error_rate") {
            Some(v) => match self.number(v, "`max_error_rate`") {
                Some(x) if (0.0..=1.0).contains(&x) => Some(x),
                Some(x) => {
                    self.error(
                        format!("`max_error_rate` is a fraction in [0, 1], found {x}"),
                        v.span(),
                    );
                    ok = false;
                    None
                }
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        ok.then_some(Some(Slo {
            mean,
            p50,
            p90,
            p99,
            p999,
            max_error_rate,
        }))
    }
}
