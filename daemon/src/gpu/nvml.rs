//! The NVML source. Every reading is its own call, and a call that fails leaves only its
//! field `None` (as bottom does): an old driver without the energy counter, or a GPU without
//! a temperature sensor, still gives the rest.

use super::source::{GpuSource, unix_ms};
use llms_shared::GpuSample;
use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::struct_wrappers::device::ProcessInfo;
use std::collections::BTreeMap;

/// GPUs read through NVML (`libnvidia-ml.so.1`, loaded at run time: no link-time
/// dependency). The library stays initialised for the source's life.
pub struct NvmlSource {
    nvml: Nvml,
    count: u32,
    driver: Option<String>,
}

/// What NVML says of this machine, for `llmsd doctor`: the driver version and each GPU's
/// name, or why there are none (the library missing, init failing, no device).
pub fn probe() -> Result<(String, Vec<String>), String> {
    let nvml = Nvml::init().map_err(|e| format!("NVML not available: {e}"))?;
    let driver = nvml
        .sys_driver_version()
        .unwrap_or_else(|_| "unknown".into());
    let count = nvml
        .device_count()
        .map_err(|e| format!("NVML cannot count GPUs: {e}"))?;
    let names = (0..count)
        .map(|i| {
            nvml.device_by_index(i)
                .and_then(|d| d.name())
                .unwrap_or_else(|e| format!("GPU {i}: {e}"))
        })
        .collect();
    Ok((driver, names))
}

impl NvmlSource {
    /// Loads and initialises NVML. `None`, with an info line saying why, when the library is
    /// absent, initialisation fails, or there is no device: all mean "no GPUs".
    pub fn open() -> Option<NvmlSource> {
        let nvml = match Nvml::init() {
            Ok(nvml) => nvml,
            Err(err) => {
                tracing::info!(error = %err, "NVML not available; running without GPUs");
                return None;
            }
        };
        match nvml.device_count() {
            Ok(0) => {
                tracing::info!("NVML sees no GPU; running without GPUs");
                None
            }
            Ok(count) => {
                let driver = nvml.sys_driver_version().ok();
                tracing::info!(
                    count,
                    driver = driver.as_deref().unwrap_or("?"),
                    "NVML ready"
                );
                Some(NvmlSource {
                    nvml,
                    count,
                    driver,
                })
            }
            Err(err) => {
                tracing::info!(error = %err, "NVML cannot count GPUs; running without GPUs");
                None
            }
        }
    }
}

impl GpuSource for NvmlSource {
    fn driver(&self) -> Option<String> {
        self.driver.clone()
    }

    fn sample(&mut self) -> Vec<GpuSample> {
        (0..self.count)
            .map(|index| self.sample_one(index))
            .collect()
    }
}

impl NvmlSource {
    fn sample_one(&self, index: u32) -> GpuSample {
        let mut s = GpuSample {
            unix_ms: unix_ms(),
            index,
            ..GpuSample::default()
        };
        let device = match self.nvml.device_by_index(index) {
            Ok(d) => d,
            Err(err) => {
                tracing::debug!(index, error = %err, "NVML device handle failed");
                return s;
            }
        };
        s.name = device.name().unwrap_or_default();
        s.util_pct = device.utilization_rates().ok().map(|u| u.gpu);
        if let Ok(mem) = device.memory_info() {
            s.mem_used = Some(mem.used);
            s.mem_total = Some(mem.total);
        }
        s.power_mw = device.power_usage().ok();
        s.power_limit_mw = device.enforced_power_limit().ok();
        s.energy_mj = device.total_energy_consumption().ok();
        s.temp_c = device.temperature(TemperatureSensor::Gpu).ok();
        s.sm_clock_mhz = device.clock_info(Clock::SM).ok();
        let compute = device.running_compute_processes().unwrap_or_default();
        let graphics = device.running_graphics_processes().unwrap_or_default();
        s.processes = merge_processes(compute.iter().chain(graphics.iter()));
        s
    }
}

/// (pid, bytes) per process, by pid. A process in both the compute and the graphics list is
/// one process with one memory figure, so the larger is kept, not the sum. Processes whose
/// memory NVML cannot give (`Unavailable`) are left out.
fn merge_processes<'a>(infos: impl Iterator<Item = &'a ProcessInfo>) -> Vec<(u32, u64)> {
    let mut by_pid = BTreeMap::<u32, u64>::new();
    for info in infos {
        if let UsedGpuMemory::Used(bytes) = info.used_gpu_memory {
            let e = by_pid.entry(info.pid).or_insert(0);
            *e = (*e).max(bytes);
        }
    }
    by_pid.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pid: u32, mem: UsedGpuMemory) -> ProcessInfo {
        ProcessInfo {
            pid,
            used_gpu_memory: mem,
            gpu_instance_id: None,
            compute_instance_id: None,
        }
    }

    #[test]
    fn processes_merge_by_pid() {
        let infos = [
            info(7, UsedGpuMemory::Used(100)),
            info(3, UsedGpuMemory::Used(5)),
            info(9, UsedGpuMemory::Unavailable),
            info(7, UsedGpuMemory::Used(40)),
        ];
        assert_eq!(merge_processes(infos.iter()), vec![(3, 5), (7, 100)]);
    }

    #[test]
    fn open_without_driver_is_none_not_error() {
        // On a machine with a GPU this is Some; either way it must not panic.
        let _ = NvmlSource::open();
    }
}
