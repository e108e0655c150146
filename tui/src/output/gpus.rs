//! `llms gpus`: one row per GPU.

use super::table;
use llms_shared::GpuSample;

fn opt<T: std::fmt::Display>(v: Option<T>, unit: &str) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v}{unit}"))
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// GPU, name, utilization, memory, power, energy, temperature, SM clock, processes.
pub fn gpus_table(gpus: &[GpuSample]) -> String {
    let rows: Vec<Vec<String>> = gpus
        .iter()
        .map(|g| {
            let mem = match (g.mem_used, g.mem_total) {
                (Some(u), Some(t)) => format!("{:.1}/{:.1} GiB", u as f64 / GIB, t as f64 / GIB),
                _ => "-".into(),
            };
            let procs = g
                .processes
                .iter()
                .map(|(pid, b)| format!("{pid}:{:.1}G", *b as f64 / GIB))
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                g.index.to_string(),
                g.name.clone(),
                opt(g.util_pct, "%"),
                mem,
                opt(
                    g.power_mw.map(|p| format!("{:.0}", f64::from(p) / 1000.0)),
                    " W",
                ),
                opt(g.energy_mj.map(|e| format!("{:.0}", e as f64 / 1e6)), " kJ"),
                opt(g.temp_c, " C"),
                opt(g.sm_clock_mhz, " MHz"),
                if procs.is_empty() { "-".into() } else { procs },
            ]
        })
        .collect();
    table(
        &[
            "GPU",
            "NAME",
            "UTIL",
            "MEMORY",
            "POWER",
            "ENERGY",
            "TEMP",
            "SM CLOCK",
            "PROCESSES (PID:MEM)",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_per_gpu_with_missing_fields_as_dashes() {
        let g = GpuSample {
            index: 1,
            name: "H100".into(),
            util_pct: Some(42),
            mem_used: Some(2 * 1024 * 1024 * 1024),
            mem_total: Some(80 * 1024 * 1024 * 1024),
            power_mw: Some(123_456),
            processes: vec![(77, 1024 * 1024 * 1024)],
            ..Default::default()
        };
        let t = gpus_table(&[g]);
        let row = t.lines().nth(1).unwrap_or_default();
        for want in ["H100", "42%", "2.0/80.0 GiB", "123 W", "77:1.0G", "-"] {
            assert!(row.contains(want), "{want}: {row}");
        }
    }
}
