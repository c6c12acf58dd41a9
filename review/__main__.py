"""Clinic review from the tracker store.

    python -m review --since 2026-11-01 --until 2026-11-30 \
        --out results/review.html --nlu-out results/candidates.yml

See docs/review.md.
"""

import argparse
import json
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _fallback_threshold(config_path: str) -> float:
    import yaml

    try:
        config = yaml.safe_load(Path(config_path).read_text()) or {}
        for component in config.get("pipeline") or []:
            if component.get("name") == "FallbackClassifier":
                return float(component.get("threshold", 0.3))
    except OSError:
        pass
    return 0.3


def _clinic_name() -> str:
    try:
        from faq.clinic import load_clinic

        return load_clinic().contact.get("name", "")
    except Exception:  # noqa: BLE001 - the report does not need it
        return ""


def parse_args(argv=None):
    today = datetime.now(timezone.utc).date()
    p = argparse.ArgumentParser(prog="python -m review", description=__doc__.split("\n")[0])
    p.add_argument("--endpoints", default="endpoints.yml", help="Rasa endpoints file (tracker_store)")
    p.add_argument(
        "--since",
        type=_day,
        default=None,
        help="first day, UTC (default: 30 days before --until, never before the retention window)",
    )
    p.add_argument("--until", type=_day, default=today, help="last day included, UTC (default: today)")
    p.add_argument("--out", default="results/review.html", help="HTML report")
    p.add_argument("--nlu-out", default="results/candidates.yml", help="Rasa NLU YAML of candidate examples")
    p.add_argument("--json-out", default=None, help="also write the figures as JSON")
    p.add_argument(
        "--low-confidence",
        type=float,
        default=0.75,
        help="answered messages below this NLU confidence are listed as candidates",
    )
    p.add_argument("--config", default="config.yml", help="Rasa config (for the fallback threshold)")
    p.add_argument("--domain", default="domain.yml", help="domain (only for non-SQL tracker stores)")
    p.add_argument(
        "--retention-days",
        type=float,
        default=None,
        help="the retention window (default: BOTOX_RETENTION_DAYS, as the purge command)",
    )
    args = p.parse_args(argv)
    if args.since is None:
        args.since = args.until - timedelta(days=29)
    if args.since > args.until:
        p.error("--since is after --until")
    return args


def main(argv=None) -> int:
    import warnings

    args = parse_args(argv)
    with warnings.catch_warnings():
        # Rasa's and SQLAlchemy's import-time deprecation notices are not the reader's concern.
        warnings.simplefilter("ignore")
        import rasa.core.tracker_store
        import rasa.utils.endpoints  # noqa: F401
    started = time.perf_counter()
    from review import candidates, cluster, feedback, figures, load, privacy, report, retention

    days = args.retention_days if args.retention_days is not None else retention.retention_days()
    cutoff = retention.cutoff_timestamp(days)
    start = datetime.combine(args.since, datetime.min.time(), tzinfo=timezone.utc).timestamp()
    end = datetime.combine(args.until + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc).timestamp()
    # Nothing outside the retention window, purged or not.
    first_day = max(args.since, figures.utc_day(cutoff))
    start = max(start, cutoff)

    config = load.tracker_store_config(args.endpoints)
    store = load.describe(config)
    try:
        raw = load.read_events(config, start, end, args.domain)
    except load.TrackerStoreError as error:
        print(f"review: {error}", file=sys.stderr)
        return 2
    loaded = time.perf_counter()
    exchanges = figures.exchanges_from_events(load.group_by_sender(raw))
    figs = figures.compute(exchanges, first_day, args.until, low_confidence=args.low_confidence)
    rated = feedback.rated_answers(t for t in exchanges if first_day <= t.day <= args.until)
    groups = cluster.group_similar([t.text for t in figs.unanswered])
    pseudonym = privacy.Pseudonymiser(privacy.load_secret())
    clipped = " (clipped from " + args.since.isoformat() + ")" if first_day > args.since else ""
    meta = {
        "first_day": first_day.isoformat() + clipped,
        "last_day": args.until.isoformat(),
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "store": store,
        "retention": f"retention {days:g} days: nothing before "
        f"{datetime.fromtimestamp(cutoff, tz=timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC",
        "clinic": _clinic_name(),
    }
    html = report.render(
        figs,
        groups,
        pseudonym,
        privacy.redact,
        meta,
        fallback_threshold=_fallback_threshold(args.config),
        low_confidence=args.low_confidence,
        rated=rated,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    header = (
        f"NLU candidates from the clinic review {first_day.isoformat()} to {args.until.isoformat()}\n"
        f"({len(figs.unanswered)} unanswered in {len(groups)} groups, "
        f"{len(figs.low_confidence)} answered below confidence {args.low_confidence:g}, "
        f"{sum(r.verdict != 'helpful' for r in rated)} answers marked not helpful)."
    )
    nlu = Path(args.nlu_out)
    nlu.parent.mkdir(parents=True, exist_ok=True)
    nlu.write_text(candidates.nlu_yaml(groups, figs.low_confidence, privacy.redact, header, rated), encoding="utf-8")
    if args.json_out:
        data = figs.as_dict(pseudonym)
        data["unanswered_groups"] = [
            {"count": g.count, "wordings": [[privacy.redact(t), n] for t, n in g.phrasings]} for g in groups
        ]
        for item in data["audited_escalations"]:
            item["text"] = privacy.redact(item["text"])
        data["feedback"] = feedback.as_dict(rated, pseudonym, privacy.redact)
        data["retention_days"] = days
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    done = time.perf_counter()
    print(
        f"review: {figs.conversations} conversations, {figs.messages} messages, {figs.fallbacks} not covered "
        f"({100 * figs.fallback_rate:.1f}%), escalations {figs.escalations}; {len(groups)} unanswered groups; "
        f"{len(raw)} events read in {loaded - started:.1f}s, total {done - started:.1f}s"
    )
    print(f"review: wrote {out} and {nlu}" + (f" and {args.json_out}" if args.json_out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
