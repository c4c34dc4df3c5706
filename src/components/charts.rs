//! Inline SVG charts of the fleet summary: no chart library, a few hundred bytes each.

use fleet_protocol::Health;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// Reputation histogram in ten 10-point buckets.
#[component]
pub fn ReputationHistogram(buckets: Vec<u64>) -> impl IntoView {
    let max = buckets.iter().copied().max().unwrap_or(0).max(1) as f64;
    let label = format!(
        "Reputation histogram: {}",
        buckets
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{}–{}: {n}", i * 10, if i == 9 { 100 } else { i * 10 + 9 }))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let bars = buckets
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let height = (*n as f64 / max * 36.0).max(if *n > 0 { 1.0 } else { 0.0 });
            view! {
                <rect
                    class="histogram-bar"
                    x=format!("{}", i * 10 + 1)
                    y=format!("{:.1}", 38.0 - height)
                    width="8"
                    height=format!("{height:.1}")
                >
                    <title>{format!("{}–{}: {n} agents", i * 10, if i == 9 { 100 } else { i * 10 + 9 })}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <svg class="histogram" viewBox="0 0 100 40" role="img" aria-label=label preserveAspectRatio="none">
            {bars}
        </svg>
    }
}

/// Fleet health as one stacked bar.
#[component]
pub fn HealthBar(counts: BTreeMap<Health, u64>) -> impl IntoView {
    let total = counts.values().sum::<u64>().max(1) as f64;
    let mut x = 0.0;
    let segments = Health::ALL
        .into_iter()
        .filter_map(|h| {
            let n = *counts.get(&h).unwrap_or(&0);
            (n > 0).then(|| {
                let width = n as f64 / total * 100.0;
                let start = x;
                x += width;
                view! {
                    <rect class=format!("seg-{h}") x=format!("{start:.2}") y="0" width=format!("{width:.2}") height="10">
                        <title>{format!("{h}: {n}")}</title>
                    </rect>
                }
            })
        })
        .collect_view();
    let label = Health::ALL
        .iter()
        .map(|h| format!("{h} {}", counts.get(h).unwrap_or(&0)))
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <svg class="health-bar" viewBox="0 0 100 10" role="img" aria-label=format!("Health: {label}") preserveAspectRatio="none">
            {segments}
        </svg>
    }
}
