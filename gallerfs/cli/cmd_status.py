"""gallerfs status / jobs: what the library holds and what it is doing."""

from __future__ import annotations

import argparse
import datetime as dt

from gallerfs.cli.context import Context, add_json_flag, printable
from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db import sources as sources_db
from gallerfs.units import human_bytes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="counts by kind and state, sources online/offline, active jobs")
    p.add_argument("--failures", action="store_true", help="also list files and folders that failed")
    add_json_flag(p)
    p.set_defaults(func=run_status)

    p = sub.add_parser("jobs", help="recent jobs with state, progress and errors")
    p.add_argument("--limit", type=int, default=20, help="how many jobs to show (default 20)")
    add_json_flag(p)
    p.set_defaults(func=run_jobs)


def _time(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def job_state(job: jobs_db.Job, holder: int | None) -> str:
    return "interrupted" if jobs_db.is_orphaned(job, holder) else job.state


def _lock_holder(ctx: Context) -> int | None:
    from gallerfs.indexer.lock import lock_holder

    return lock_holder(ctx.paths.run_dir)


def run_status(ctx: Context) -> int:
    from gallerfs.indexer.volumes import source_presence

    db = ctx.open_reader() if ctx.paths.db.exists() else ctx.open_db()
    counts = files_db.counts(db)
    per_source = files_db.files_per_source(db)
    sources, offline_files = [], 0
    for s in sources_db.list_sources(db):  # checked now, by the same rule as 'gallerfs sources'
        presence = source_presence(db, s)
        sources.append({"name": s.name, "online": presence.online, "offline_reason": presence.reason})
        offline_files += 0 if presence.online else per_source.get(s.id, 0)
    counts["offline_files"] = offline_files
    active = jobs_db.list_jobs(db, active_only=True)
    holder = _lock_holder(ctx)
    data = {
        "library": str(ctx.paths.root),
        **counts,
        "sources": sources,
        "jobs": [{**j.as_dict(), "state": job_state(j, holder)} for j in active],
    }
    if ctx.args.failures:
        data["failure_list"] = files_db.failures(db, limit=1000)

    def text(d: dict) -> str:
        lines = [f"library   {d['library']}",
                 f"files     {d['files']} ({human_bytes(d['bytes'])}), {d['offline_files']} offline"]  # fmt: skip
        for kind, v in d["by_kind"].items():
            lines.append(f"  {kind:<7} {v['files']:>8}  {human_bytes(v['bytes'])}")
        st = d["by_state"]
        lines.append(f"indexed   {st['done']} done, {st['pending']} pending, {st['error']} with errors")
        lines.append(f"albums    {d['albums']}, favourites {d['favourites']}, with GPS {d['with_gps']}")
        for s in d["sources"]:
            lines.append(f"source    {s['name']}: " + ("online" if s["online"] else f"OFFLINE ({s['offline_reason']})"))
        for j in d["jobs"]:
            lines.append(f"job       #{j['id']} {j['kind']} {j['state']} {j['done']}/{j['total']}")
        for f in d.get("failure_list", []):
            lines.append(f"failed    [{f['source']}] {printable(f['path']) or '.'}: {f['stage']}: {f['error']}")
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0


def run_jobs(ctx: Context) -> int:
    db = ctx.open_reader() if ctx.paths.db.exists() else ctx.open_db()
    names: dict[int | None, str] = {s.id: s.name for s in sources_db.list_sources(db)}
    jobs = jobs_db.list_jobs(db, limit=ctx.args.limit)
    holder = _lock_holder(ctx)
    data = [{**j.as_dict(), "state": job_state(j, holder), "source": names.get(j.source_id)} for j in jobs]

    def text(rows: list[dict]) -> str:
        if not rows:
            return "no jobs yet"
        out = [f"{'id':>5} {'kind':<8} {'state':<12} {'progress':>13} {'failed':>6}  {'started':<19}  source"]
        for r in rows:
            out.append(f"{r['id']:>5} {r['kind']:<8} {r['state']:<12} {r['done']:>6}/{r['total']:<6} "
                       f"{r['failed']:>6}  {_time(r['started_at']):<19}  {r['source'] or ''}")  # fmt: skip
            if r["last_error"]:
                out.append(f"{'':>5} last error: {r['last_error']}")
        return "\n".join(out)

    ctx.emit(data, text)
    return 0
