//! Inline SVG charts of the fleet summary: no chart library, a few hundred bytes each.
//!
//! Coordinates are whole numbers in a finely divided `viewBox` (the SVG scales to its CSS
//! size), so no float formatting code ships in the wasm.

use fleet_protocol::Health;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// Histogram drawing units: ten 100-wide columns, 400 high.
const COLUMN: u64 = 100;
const PLOT_HEIGHT: u64 = 360;
const BASELINE: u64 = 380;
/// Health bar drawing units: the whole bar.
const BAR_WIDTH: u64 = 10_000;

/// `(y, height)` of each histogram bar: scaled to the largest bucket, and a non-empty
/// bucket always shows at least a sliver.
fn bar_heights(buckets: &[u64]) -> Vec<(u64, u64)> {
    let max = buckets.iter().copied().max().unwrap_or(0).max(1);
    buckets
        .iter()
        .map(|&n| {
            let height = (n * PLOT_HEIGHT / max).max(u64::from(n > 0) * 10);
            (BASELINE - height, height)
        })
        .collect()
}

/// `(health, count, x, width)` of each non-empty health segment; together they fill the bar.
fn segments(counts: &BTreeMap<Health, u64>) -> Vec<(Health, u64, u64, u64)> {
    let total = counts.values().sum::<u64>().max(1);
    let mut running = 0;
    Health::ALL
        .into_iter()
        .filter_map(|h| {
            let n = counts.get(&h).copied().unwrap_or(0);
            (n > 0).then(|| {
                let start = running * BAR_WIDTH / total;
                running += n;
                (h, n, start, running * BAR_WIDTH / total - start)
            })
        })
        .collect()
}

fn bucket_range(i: usize) -> String {
    format!("{}–{}", i * 10, if i == 9 { 100 } else { i * 10 + 9 })
}

/// One bar of a chart, with its count as a tooltip.
fn bar(class: String, x: u64, y: u64, width: u64, height: u64, title: String) -> impl IntoView {
    view! {
        <rect class=class x=x y=y width=width height=height>
            <title>{title}</title>
        </rect>
    }
}

/// Reputation histogram in ten 10-point buckets.
#[component]
pub fn ReputationHistogram(buckets: Vec<u64>) -> impl IntoView {
    let label = format!(
        "Reputation histogram: {}",
        buckets
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{}: {n}", bucket_range(i)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let bars = bar_heights(&buckets)
        .into_iter()
        .zip(buckets)
        .enumerate()
        .map(|(i, ((y, height), n))| {
            let title = format!("{}: {n} agents", bucket_range(i));
            bar(
                "histogram-bar".to_owned(),
                i as u64 * COLUMN + 10,
                y,
                80,
                height,
                title,
            )
        })
        .collect_view();
    view! {
        <svg class="histogram" viewBox="0 0 1000 400" role="img" aria-label=label preserveAspectRatio="none">
            {bars}
        </svg>
    }
}

/// Fleet health as one stacked bar.
#[component]
pub fn HealthBar(counts: BTreeMap<Health, u64>) -> impl IntoView {
    let bars = segments(&counts)
        .into_iter()
        .map(|(h, n, x, width)| bar(format!("seg-{h}"), x, 0, width, 10, format!("{h}: {n}")))
        .collect_view();
    let label = Health::ALL
        .iter()
        .map(|h| format!("{h} {}", counts.get(h).unwrap_or(&0)))
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <svg class="health-bar" viewBox="0 0 10000 10" role="img" aria-label=format!("Health: {label}") preserveAspectRatio="none">
            {bars}
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_bucket_and_small_ones_stay_visible() {
        let bars = bar_heights(&[0, 1, 500, 1000]);
        assert_eq!(bars[0], (BASELINE, 0));
        assert_eq!(bars[1], (BASELINE - 10, 10));
        assert_eq!(bars[2], (BASELINE - 180, 180));
        assert_eq!(bars[3], (BASELINE - PLOT_HEIGHT, PLOT_HEIGHT));
        assert!(bar_heights(&[0; 10]).iter().all(|&(_, h)| h == 0));
    }

    #[test]
    fn health_segments_fill_the_bar_in_order_without_gaps() {
        let counts = BTreeMap::from([(Health::Healthy, 2), (Health::Stale, 0), (Health::Never, 1)]);
        let parts = segments(&counts);
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].0, parts[0].2), (Health::Healthy, 0));
        assert_eq!(parts[0].2 + parts[0].3, parts[1].2);
        assert_eq!(parts[1].2 + parts[1].3, BAR_WIDTH);
        assert!(segments(&BTreeMap::new()).is_empty());
    }
}
