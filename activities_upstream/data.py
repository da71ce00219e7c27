"""Deterministic activity data: the same seed and config always give the same bytes.

Records of one (type, day) come from one ``random.Random`` seeded by (seed, type, day), so a
day can be generated on its own, in any order, and large exports stay cheap to produce.
Text fields carry what breaks naive parsers: quotes, backslashes, commas, tabs, embedded
newlines, accents, CJK and emoji.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections.abc import Iterator
from typing import Any

PEOPLEAI_TYPES = ("email", "meeting", "call")
CHARTMOGUL_TYPES = ("new_biz", "expansion", "contraction", "churn", "reactivation")
MAX_PROCESSING_LAG_DAYS = 5
ONE_DAY = dt.timedelta(days=1)

_SUBJECTS = (
    "Quarterly review",
    'Re: "Pricing" question, part 2',
    "Démo produit — équipe Zürich",
    "会议纪要 第三季度",
    "Follow-up 🚀 next steps",
    "Path C:\\deals\\2024 \\ backslashes",
    "Line one\nLine two\r\nLine three",
    "Tab\tseparated\tsubject",
)
_NAMES = ("Ana Gómez", "Björn Øster", "李雷", "O'Connor, Pat", 'Zoë "Z" Smith', "Amélie Dupont")
_COMPANIES = (
    "Acme, Inc.",
    "Globex",
    'Initech "Labs"',
    "Umbrella Ltd",
    "Søren & Co",
    "株式会社テスト",
)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _stamp(day: dt.date, seconds: int, *, zone: bool = True) -> str:
    moment = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if zone else "")


class PeopleAIData:
    """All People.ai activities of the configured range, plus test mutations."""

    def __init__(
        self,
        seed: int,
        start: dt.date,
        end: dt.date,
        per_day: int,
        *,
        unknown_fields: bool = True,
        compact: bool = False,
    ) -> None:
        self.unknown_fields = unknown_fields
        self.compact = compact
        self.seed = seed
        self.start = start
        self.end = end
        self.per_day = per_day
        self._overrides: dict[str, dict[str, Any]] = {}
        self._extra: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.version = 0
        """Bumped by every mutation, so rendered exports of older data are not reused."""
        self._days: dict[tuple[str, dt.date], list[dict[str, Any]]] = {}

    def day_records(self, kind: str, day: dt.date) -> list[dict[str, Any]]:
        """Base records of one type and activity day, before mutations (generated once)."""
        if not (self.start <= day <= self.end):
            return []
        key = (kind, day)
        if key not in self._days:
            rng = random.Random(f"{self.seed}/peopleai/{kind}/{day.isoformat()}")
            make = self._compact_record if self.compact else self._record
            self._days[key] = [make(rng, kind, day) for _ in range(self.per_day)]
        return self._days[key]

    def _record(self, rng: random.Random, kind: str, day: dt.date) -> dict[str, Any]:
        seconds = rng.randrange(86400)
        lag = 0 if rng.random() < 0.8 else rng.randint(1, MAX_PROCESSING_LAG_DAYS)
        ingest_day = day + dt.timedelta(days=lag)
        ingest_seconds = seconds if lag == 0 else rng.randrange(86400)
        ingest_seconds = max(ingest_seconds, seconds) if lag == 0 else ingest_seconds
        participants = [
            {
                "peopleai_id": f"p{rng.randrange(10**6)}",
                "crm_id": rng.choice([None, f"003{rng.randrange(10**9):09d}"]),
                "name": rng.choice(_NAMES),
                "title": rng.choice(["VP Sales", "AE", None, "Директор"]),
                "phone": rng.choice([None, "+1 (555) 010-2030"]),
                "email": f"user{rng.randrange(1000)}@example.com",
                "role": rng.choice(["organizer", "attendee", "sender", "recipient"]),
                "type": rng.choice(["internal", "external"]),
                "time_spent": rng.choice([None, round(rng.random() * 3600, 2)]),
                "team": {"crm_id": f"00E{rng.randrange(1000)}", "name": "EMEA, North"},
                "matched_as": rng.choice(["contact", "lead", None]),
                "status": rng.choice(["accepted", "declined", "tentative", None]),
            }
            for _ in range(rng.randint(1, 4))
        ]
        record: dict[str, Any] = {
            "uid": _uuid(rng),
            "source_id": f"<{rng.getrandbits(64):x}@mail.example.com>",
            "type": kind,
            "timestamp": _stamp(day, seconds, zone=rng.random() < 0.9),
            "ingest_timestamp": _stamp(ingest_day, ingest_seconds),
            "created": _stamp(day, seconds),
            "subject": rng.choice(_SUBJECTS),
            "summary": rng.choice([None, 'Discussed renewal;\n"next" steps: send quote ✅', ""]),
            "direction": rng.choice(["inbound", "outbound", None]),
            "status": rng.choice(["completed", "scheduled", "canceled"]),
            "location": rng.choice([None, "Zoom", "HQ, Room 4 — 3rd floor"]),
            "tags": rng.sample(
                ["renewal", "upsell", "q3", "prio:high", "naïve"], rng.randint(0, 3)
            ),
            "campaigns": [
                {
                    "crm_id": "701X",
                    "name": "Spring, 2024",
                    "start_date": "2024-03-01",
                    "end_date": None,
                }
            ]
            if rng.random() < 0.2
            else [],
            "stats": {
                "total_participants": len(participants),
                "internal_participants": sum(p["type"] == "internal" for p in participants),
                "external_participants": sum(p["type"] == "external" for p in participants),
            },
            "crm_status": {
                "pushed": rng.random() < 0.5,
                "push_time": None,
                "crm_id": rng.choice([None, f"00T{rng.randrange(10**9)}"]),
                "matched_to": rng.choice(["opportunity", "account", None]),
                "account": {"crm_id": "001A", "name": rng.choice(_COMPANIES)},
                "opportunity": None,
                "lead": None,
            },
            "participants": participants,
        }
        if kind == "email":
            record["in_reply_to_source_id"] = rng.choice([None, "<abc@mail.example.com>"])
            record["reply_received"] = rng.random() < 0.3
            record["attachment_file_names"] = rng.choice([[], ["deck, final.pdf", "Ångström.xlsx"]])
        elif kind == "meeting":
            record["start_time"] = record["timestamp"]
            record["end_time"] = _stamp(day, min(seconds + 1800, 86399))
            record["all_day"] = rng.random() < 0.05
            record["duration"] = 1800
        else:
            record["duration"] = rng.randint(5, 3600)
            record["outbound_phone_number"] = "+44 20 7946 0000"
        if rng.random() < 0.05 and self.unknown_fields:
            record["x_future_field"] = {"note": "unknown to the schema; must pass through"}
        if self.unknown_fields:
            self._drift(record)
        return record

    @staticmethod
    def _compact_record(rng: random.Random, kind: str, day: dt.date) -> dict[str, Any]:
        """A record of about 550 bytes, its date-times without an offset (they are UTC)."""
        seconds = rng.randrange(86400)
        internal = rng.random() < 0.5
        return {
            "uid": _uuid(rng),
            "source_id": f"<{rng.getrandbits(64):x}@mail.example.com>",
            "type": kind,
            "timestamp": _stamp(day, seconds, zone=False),
            "ingest_timestamp": _stamp(day, min(seconds + 60, 86399), zone=False),
            "created": _stamp(day, seconds, zone=False),
            "subject": rng.choice(_SUBJECTS),
            "direction": rng.choice(["inbound", "outbound", None]),
            "tags": rng.sample(["renewal", "upsell", "q3"], rng.randint(0, 2)),
            "stats": {
                "total_participants": 1,
                "internal_participants": int(internal),
                "external_participants": int(not internal),
            },
            "crm_status": {
                "pushed": rng.random() < 0.5,
                "push_time": None,
            },
            "participants": [
                {
                    "peopleai_id": f"p{rng.randrange(10**6)}",
                    "name": rng.choice(_NAMES),
                    "email": f"user{rng.randrange(1000)}@example.com",
                    "role": rng.choice(["sender", "recipient"]),
                    "type": "internal" if internal else "external",
                }
            ],
        }

    @staticmethod
    def _drift(record: dict[str, Any]) -> None:
        """What an upstream that changes under the tap sends, decided by the record's uid.

        A number field the schema does not know (mostly whole, sometimes not: a type that
        widens), and an ``ingest_timestamp`` now and then without its zone. Its own
        ``Random``, so the records' other values stay as they were.
        """
        rng = random.Random(record["uid"])
        if rng.random() < 0.3:
            record["x_engagement_score"] = rng.choice([rng.randint(0, 100), rng.random() * 100])
        if rng.random() < 0.05:
            record["ingest_timestamp"] = record["ingest_timestamp"].removesuffix("Z") + ".250"

    def mutate(self, day: dt.date, new: int = 0, changed: int = 0) -> list[str]:
        """Add ``new`` activities processed on ``day`` and reprocess ``changed`` old ones.

        Returns the uids touched, new ones first.
        """
        rng = random.Random(f"{self.seed}/mutate/{day.isoformat()}/{len(self._extra)}")
        touched = []
        with self._lock:
            self.version += 1
            for index in range(new):
                kind = PEOPLEAI_TYPES[index % 3]
                record = self._record(rng, kind, day)
                record["ingest_timestamp"] = _stamp(day, 43200)
                self._extra.append(record)
                touched.append(record["uid"])
            pool_day = self.start
            for index in range(changed):
                kind = PEOPLEAI_TYPES[index % 3]
                base = self.day_records(kind, pool_day + dt.timedelta(days=index))
                if not base:
                    break
                record = dict(self._overrides.get(base[0]["uid"], base[0]))
                record["subject"] = f"{record['subject']} (updated {day.isoformat()})"
                record["ingest_timestamp"] = _stamp(day, 43200)
                self._overrides[record["uid"]] = record
                touched.append(record["uid"])
        return touched

    def _with_changes(self, records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            yield self._overrides.get(record["uid"], record)

    def select(self, kind: str, start: dt.date, end: dt.date, by: str) -> list[dict[str, Any]]:
        """Exactly what an export returns: snapshot by activity day, delta by processed day."""
        kinds = PEOPLEAI_TYPES if kind == "all" else (kind,)
        out: list[dict[str, Any]] = []
        for k in kinds:
            if by == "activity":
                day = start
                while day <= end:
                    out.extend(self._with_changes(self.day_records(k, day)))
                    day += ONE_DAY
                out.extend(
                    r
                    for r in self._extra
                    if r["type"] == k and start <= _day(r["timestamp"]) <= end
                )
            else:
                day = start - dt.timedelta(days=MAX_PROCESSING_LAG_DAYS)
                seen = set()
                while day <= end:
                    for record in self._with_changes(self.day_records(k, day)):
                        seen.add(record["uid"])
                        if start <= _day(record["ingest_timestamp"]) <= end:
                            out.append(record)
                    day += ONE_DAY
                for record in [*self._overrides.values(), *self._extra]:
                    if (
                        record["type"] == k
                        and record["uid"] not in seen
                        and start <= _day(record["ingest_timestamp"]) <= end
                    ):
                        seen.add(record["uid"])
                        out.append(record)
        return out


class ChartMogulData:
    """All ChartMogul activities of the configured range, as CSV rows (header names)."""

    def __init__(
        self, seed: int, start: dt.date, end: dt.date, per_day: int, extra_column: str | None
    ) -> None:
        self.seed = seed
        self.start = start
        self.end = end
        self.per_day = per_day
        self.extra_column = extra_column
        self._overrides: dict[str, dict[str, str]] = {}
        self._extra: list[dict[str, str]] = []
        self._days: dict[tuple[str, dt.date], list[dict[str, str]]] = {}
        self.version = 0
        """Bumped by every mutation, so rendered exports of older data are not reused."""

    @property
    def columns(self) -> list[str]:
        """The CSV header, hyphenated as ChartMogul names the fields."""
        base = [
            "uuid", "date", "type", "description", "activity-mrr-movement", "activity-mrr",
            "activity-arr", "currency", "subscription-external-id", "plan-external-id",
            "customer-name", "customer-uuid", "customer-external-id", "billing-connector-uuid",
        ]  # fmt: skip
        return [*base, self.extra_column] if self.extra_column else base

    def day_rows(self, kind: str, day: dt.date) -> list[dict[str, str]]:
        """Base rows of one type and day."""
        if not (self.start <= day <= self.end):
            return []
        key = (kind, day)
        if key not in self._days:
            rng = random.Random(f"{self.seed}/chartmogul/{kind}/{day.isoformat()}")
            self._days[key] = [self._row(rng, kind, day) for _ in range(self.per_day)]
        return self._days[key]

    def _row(self, rng: random.Random, kind: str, day: dt.date) -> dict[str, str]:
        movement = rng.randint(100, 500_000)
        if kind in {"contraction", "churn"}:
            movement = -movement
        mrr = 0 if kind == "churn" else abs(movement) + rng.randint(0, 100_000)
        row = {
            "uuid": f"ac_{_uuid(rng)}",
            "date": _stamp(day, rng.randrange(86400), zone=False) + "+00:00",
            "type": kind,
            "description": rng.choice(
                ["Upgrade, annual", 'Plan "Pro" → "Team"', "Línea 1\nLínea 2", "新计划", ""]
            ),
            "activity-mrr-movement": str(movement),
            "activity-mrr": str(mrr),
            "activity-arr": str(mrr * 12),
            "currency": rng.choice(["USD", "EUR", "JPY"]),
            "subscription-external-id": f"sub_{rng.getrandbits(40):x}",
            "plan-external-id": rng.choice(["pro_monthly", "team, yearly", ""]),
            "customer-name": rng.choice(_COMPANIES),
            "customer-uuid": f"cus_{_uuid(rng)}",
            "customer-external-id": f"C-{rng.randrange(10**6)}",
            "billing-connector-uuid": "ds_fef05d54-47b4-431b-aed2-eb6b9e545430",
        }
        if self.extra_column:
            row[self.extra_column] = rng.choice(["", "note, with comma", "ünïcödé"])
        return row

    def mutate(self, day: dt.date, new: int = 0, changed: int = 0) -> list[str]:
        """Add ``new`` rows dated ``day`` and recompute ``changed`` rows dated just before it."""
        rng = random.Random(f"{self.seed}/cm-mutate/{day.isoformat()}/{len(self._extra)}")
        touched = []
        self.version += 1
        for index in range(new):
            row = self._row(rng, CHARTMOGUL_TYPES[index % 5], day)
            self._extra.append(row)
            touched.append(row["uuid"])
        for index in range(changed):
            kind = CHARTMOGUL_TYPES[index % 5]
            base = self.day_rows(kind, day - dt.timedelta(days=1 + index // 5))
            if not base:
                break
            row = dict(self._overrides.get(base[0]["uuid"], base[0]))
            row["description"] = f"{row['description']} (recomputed)"
            row["activity-mrr"] = str(int(row["activity-mrr"]) + 1)
            self._overrides[row["uuid"]] = row
            touched.append(row["uuid"])
        return touched

    def select(self, kind: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, str]]:
        """Rows of one type whose ``date`` lies within ``start..end`` (inclusive), by date."""
        rows = []
        day = start.date()
        while day <= end.date():
            rows.extend(self._overrides.get(r["uuid"], r) for r in self.day_rows(kind, day))
            day += ONE_DAY
        rows.extend(r for r in self._extra if r["type"] == kind)
        chosen = [r for r in rows if start <= _moment(r["date"]) <= end]
        return sorted(chosen, key=lambda r: (r["date"], r["uuid"]))


def _day(stamp: str) -> dt.date:
    return dt.date.fromisoformat(stamp[:10])


def _moment(stamp: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
