//! A job's capacity search, one engine at a time: each probe is planned (appended to the
//! job's plan and stored) before it runs, and stored like any other point; the next load
//! follows from the probes stored so far (`bench::search`), so a search interrupted by a
//! crash resumes at its first unfinished probe. The row that ends the search carries what it
//! found.

use super::plan;
use super::worker::{Stop, Worker, spec_name};
use crate::bench::Session;
use crate::bench::search::{self, Next};
use crate::engine::Engine;
use crate::store::JobRecord;
use llms_shared::{EngineDef, PointPlan, ProbeReport, ResultRow, SearchDef, SearchRole};

/// An engine's search so far.
pub(super) struct SearchCtx {
    def: SearchDef,
    unit: &'static str,
    probes: Vec<ProbeReport>,
}

impl SearchCtx {
    /// The search of engine `engine` as `rows` (stored, in index order) left it.
    pub fn of(def: SearchDef, rows: &[ResultRow], engine: &str, unit: &'static str) -> Self {
        let probes = rows
            .iter()
            .filter(|r| r.engine == engine)
            .filter_map(|r| Some((r, r.role?)))
            .map(|(r, role)| judge(&def, r, role))
            .collect();
        Self { def, unit, probes }
    }

    /// If `row` (a probe about to be stored) ends the search, put what it found on it.
    pub fn finish(&self, row: &mut ResultRow) {
        let Some(role) = row.role else {
            return;
        };
        let mut probes = self.probes.clone();
        probes.push(judge(&self.def, row, role));
        if let Next::Done(r) = search::next(&self.def, &probes, self.unit) {
            row.search = Some(r);
        }
    }
}

fn judge(def: &SearchDef, r: &ResultRow, role: SearchRole) -> ProbeReport {
    let load = r
        .load
        .clone()
        .unwrap_or(llms_shared::Load::Concurrency { concurrency: 0 });
    let point = match (&r.point, &r.error) {
        (Some(p), _) => Ok(p),
        (None, e) => Err(e.as_deref().unwrap_or("no figures")),
    };
    search::judge(def, load, role, point)
}

/// Whether `engine` still has a search to run (or finish) in `job`.
pub(super) fn searching(job: &JobRecord, engine: &str, rows: &[ResultRow]) -> bool {
    job.sweep.load.search.is_some()
        && !rows
            .iter()
            .any(|r| r.engine == engine && r.search.is_some())
}

/// The next probe to run: the job as now stored (its plan holding the probe), the probe,
/// where the search stands, and the job's stored rows.
type Probe = (JobRecord, PointPlan, SearchCtx, Vec<ResultRow>);

fn store_err(e: crate::store::StoreError) -> Stop {
    Stop::Store(e.to_string(), e.is_io())
}

impl Worker {
    /// The engine's next probe: one planned and not stored yet, or a new one planned now.
    /// `None`: the search is over.
    async fn next_probe(
        &self,
        job: &JobRecord,
        name: &str,
        session: Option<&Session>,
    ) -> Result<Option<Probe>, Stop> {
        let s = &self.sched;
        let Some(def) = job.sweep.load.search.clone() else {
            return Ok(None);
        };
        let now = s.inner.store.job(job.id).map_err(store_err)?;
        let now = now.ok_or_else(|| Stop::Store("the job vanished".into(), false))?;
        let rows = s.inner.store.points(job.id).map_err(store_err)?;
        if !searching(&now, name, &rows) {
            return Ok(None);
        }
        let unit = session.map_or("in flight", Session::search_unit);
        let ctx = SearchCtx::of(def.clone(), &rows, name, unit);
        let pending = now
            .plan
            .iter()
            .find(|p| {
                p.engine == name && p.role.is_some() && !rows.iter().any(|r| r.index == p.index)
            })
            .cloned();
        if let Some(p) = pending {
            return Ok(Some((now, p, ctx, rows)));
        }
        let (value, role) = match search::next(&def, &ctx.probes, unit) {
            Next::Done(_) => return Ok(None),
            Next::Run(v, role) => (v, role),
        };
        let load = match session.and_then(|s| s.search_load(value)) {
            Some(l) => l,
            // No session to say the arrivals: the probe only records why there are no figures.
            None => def.load(value, llms_shared::Arrival::Poisson, None),
        };
        let updated = s
            .update(job.id, |j| {
                let index = j.plan.len() as u32;
                j.plan.push(PointPlan {
                    index,
                    engine: name.to_owned(),
                    load,
                    role: Some(role),
                });
            })
            .map_err(store_err)?
            .ok_or_else(|| Stop::Store("the job vanished".into(), false))?;
        let p = updated
            .plan
            .last()
            .cloned()
            .ok_or_else(|| Stop::Store("the plan is empty".into(), false))?;
        Ok(Some((updated, p, ctx, rows)))
    }

    /// Run the engine's search to its end (or the engine's death, which ends it too).
    pub(super) async fn run_search(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        engine: &Engine,
        session: &mut Session,
    ) -> Result<(), Stop> {
        let name = spec_name(def);
        let warmup = u64::from(job.sweep.load.warmup_requests.unwrap_or(0));
        loop {
            if let Some(stop) = self.stopped() {
                return Err(stop);
            }
            let Some((now, p, ctx, rows)) = self.next_probe(job, &name, Some(session)).await?
            else {
                return Ok(());
            };
            let first = plan::first_prompt(&now.plan, &p, &rows, warmup);
            if session.first_prompt() < first {
                session.set_first_prompt(first);
            }
            let died = self
                .run_point(&now, def, engine, session, &p, Some(&ctx))
                .await;
            self.warn(job, def, session.take_warnings());
            if died?.is_some() {
                return Ok(());
            }
        }
    }

    /// The engine could not be measured: its search ends with one probe that says why.
    pub(super) async fn fail_search(
        &self,
        job: &JobRecord,
        def: &EngineDef,
        why: &str,
    ) -> Result<(), Stop> {
        let name = spec_name(def);
        if let Some((_, p, ctx, _)) = self.next_probe(job, &name, None).await? {
            self.fail_point_with(job, def, &p, why, Some(&ctx)).await?;
        }
        Ok(())
    }
}
