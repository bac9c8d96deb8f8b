"""Campaigns as JSON (`load_campaign FILE.json`): templates, a campaign and its rules, created or
updated by name.

The whole file is checked before anything is written: every fault is reported with its JSON
path (`rules[1].variants[0].template: no template named 'vip'`), and a file with any fault
writes nothing. The format is part of the command-line contract and documented in the README.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction

from campaigns import rendering
from campaigns.models import Campaign, Channel, MessageTemplate, Rule, Variant
from segments import selectors

from .schedules import campaign_schedule_sync

TOP_KEYS = {"name", "description", "holdout_percent", "attribution_days", "goal", "quiet_hours", "frequency_cap",
            "schedule", "templates", "rules"}
TEMPLATE_KEYS = {"email": {"name", "channel", "subject", "html", "text"}, "sms": {"name", "channel", "body"}}
RULE_KEYS = {"segments", "conditions", "channel", "variants", "offer", "priority"}
OFFER_KEYS = {"code", "discount", "expires_days"}
GOALS = {"any_order": set(), "coupon": {"code"}, "min_amount": {"amount"}}
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_CRON = re.compile(r"\S+(\s+\S+){4}")


class DefinitionError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def campaign_load(*, data) -> Campaign:
    """Create or update (by name) the file's templates, its campaign and the campaign's rules."""
    checker = _Checker()
    plan = checker.check(data)
    if checker.problems:
        raise DefinitionError(checker.problems)
    with transaction.atomic():
        templates = _save_templates(plan["templates"])
        campaign = _save_campaign(data, plan)
        _save_rules(campaign, plan["rules"], templates)
        campaign_schedule_sync(campaign=campaign)
    return campaign


class _Checker:
    def __init__(self):
        self.problems: list[str] = []

    def fault(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def keys(self, value, path: str, allowed: set[str], required: set[str] = frozenset()) -> bool:
        if not isinstance(value, dict):
            self.fault(path, "must be an object")
            return False
        for key in sorted(set(value) - allowed):
            self.fault(f"{path}.{key}" if path else key, f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for key in sorted(required - set(value)):
            self.fault(f"{path}.{key}" if path else key, "is required")
        return True

    def number(self, value, path: str, low: float, high: float, *, whole: bool = True):
        kinds = int if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            self.fault(path, f"must be a {'whole ' if whole else ''}number from {low:g} to {high:g}, got {value!r}")
            return None
        return value

    def check(self, data) -> dict:
        plan = {"templates": [], "rules": []}
        if not self.keys(data, "", TOP_KEYS, {"name", "rules"}):
            return plan
        if not isinstance(data.get("name"), str) or not data["name"].strip():
            self.fault("name", "must be a non-empty text")
        if "description" in data and not isinstance(data["description"], str):
            self.fault("description", "must be text")
        if "holdout_percent" in data:
            self.number(data["holdout_percent"], "holdout_percent", 0, 50)
        if "attribution_days" in data:
            self.number(data["attribution_days"], "attribution_days", 1, 90)
        self._goal(data.get("goal"))
        plan["quiet"] = self._quiet_hours(data.get("quiet_hours", "absent"))
        plan["cap"] = self._frequency_cap(data.get("frequency_cap", "absent"))
        plan["schedule"] = self._schedule(data.get("schedule"))
        templates = data.get("templates", [])
        if not isinstance(templates, list):
            self.fault("templates", "must be a list")
            templates = []
        plan["templates"] = [t for i, t in enumerate(templates) if self._template(t, f"templates[{i}]")]
        in_file = {t["name"]: t["channel"] for t in plan["templates"]}
        rules = data.get("rules")
        if not isinstance(rules, list) or not rules:
            self.fault("rules", "must be a non-empty list")
            return plan
        priorities = []
        for i, rule in enumerate(rules):
            checked = self._rule(rule, f"rules[{i}]", in_file, default_priority=i + 1)
            if checked:
                plan["rules"].append(checked)
                priorities.append(checked["priority"])
        if len(priorities) != len(set(priorities)):
            self.fault("rules", "two rules have the same priority")
        return plan

    def _goal(self, goal) -> None:
        if goal is None:
            return
        if not self.keys(goal, "goal", {"kind", "code", "amount"}, {"kind"}):
            return
        kind = goal.get("kind")
        if kind not in GOALS:
            self.fault("goal.kind", f"must be one of {', '.join(GOALS)}, got {kind!r}")
            return
        for key in sorted(GOALS[kind] - set(goal)):
            self.fault(f"goal.{key}", f"is required for the {kind} goal")
        if "amount" in goal:
            try:
                if Decimal(str(goal["amount"])) <= 0:
                    raise InvalidOperation
            except InvalidOperation:
                self.fault("goal.amount", f"must be a positive amount, got {goal['amount']!r}")

    def _quiet_hours(self, quiet):
        if quiet == "absent":
            return "absent"
        if quiet is None:
            return None
        if not self.keys(quiet, "quiet_hours", {"start", "end"}, {"start", "end"}):
            return "absent"
        times = {}
        for key in ("start", "end"):
            try:
                times[key] = dt.time.fromisoformat(str(quiet.get(key)))
            except ValueError:
                self.fault(f"quiet_hours.{key}", f"must be a time like 21:00, got {quiet.get(key)!r}")
        return (times["start"], times["end"]) if len(times) == 2 else "absent"

    def _frequency_cap(self, cap):
        if cap == "absent":
            return "absent"
        if cap is None:
            return None
        if not self.keys(cap, "frequency_cap", {"messages", "days"}, {"messages", "days"}):
            return "absent"
        messages = self.number(cap.get("messages"), "frequency_cap.messages", 1, 100)
        days = self.number(cap.get("days"), "frequency_cap.days", 1, 365)
        return (messages, days) if messages and days else "absent"

    def _schedule(self, schedule):
        if schedule is None:
            return {}
        if not self.keys(schedule, "schedule", {"at", "cron"}):
            return {}
        if len(schedule) != 1:
            self.fault("schedule", 'give one of "at" (an ISO 8601 time) or "cron" ("m h dom mon dow")')
            return {}
        if "at" in schedule:
            try:
                at = dt.datetime.fromisoformat(str(schedule["at"]))
            except ValueError:
                self.fault("schedule.at", f"must be an ISO 8601 time like 2026-12-01T09:00, got {schedule['at']!r}")
                return {}
            if at.tzinfo is None:  # the shop's time zone
                at = at.replace(tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
            return {"at": at}
        cron = schedule["cron"]
        if not isinstance(cron, str) or not _CRON.fullmatch(cron.strip()):
            self.fault("schedule.cron", f'must be five fields "minute hour day-of-month month day-of-week", got {cron!r}')
            return {}
        return {"cron": " ".join(cron.split())}

    def _template(self, template, path: str) -> bool:
        if not isinstance(template, dict):
            self.fault(path, "must be an object")
            return False
        channel = template.get("channel")
        if channel not in TEMPLATE_KEYS:
            self.fault(f"{path}.channel", f"must be email or sms, got {channel!r}")
            return False
        if not self.keys(template, path, TEMPLATE_KEYS[channel], {"name"}):
            return False
        name = template.get("name")
        if not isinstance(name, str) or not _SLUG.fullmatch(name):
            self.fault(f"{path}.name", f"must be letters, digits, - and _, got {name!r}")
            return False
        fields = {key: template.get(key, "") for key in TEMPLATE_KEYS[channel] - {"name", "channel"}}
        for key, value in fields.items():
            if not isinstance(value, str):
                self.fault(f"{path}.{key}", "must be text")
                return False
        for problem in rendering.check_template(channel, opt_out_text=settings.SMS_OPT_OUT_TEXT, **fields):
            if problem.level == "error":
                where = f", line {problem.line}" if problem.line else ""
                self.fault(f"{path}.{problem.field}", f"{problem.message}{where}")
        return True

    def _rule(self, rule, path: str, in_file: dict[str, str], *, default_priority: int):
        if not self.keys(rule, path, RULE_KEYS, {"segments", "channel", "variants"}):
            return None
        checked = {"priority": default_priority, "conditions": rule.get("conditions", [])}
        if "priority" in rule:
            checked["priority"] = self.number(rule["priority"], f"{path}.priority", 1, 1000) or default_priority
        channel = rule.get("channel")
        if channel not in Channel.values:
            self.fault(f"{path}.channel", f"must be email or sms, got {channel!r}")
        checked["channel"] = channel
        segments = rule.get("segments")
        checked["segments"] = []
        if not isinstance(segments, list) or not segments:
            self.fault(f"{path}.segments", "must be a non-empty list of segment keys or names")
        else:
            for j, name in enumerate(segments):
                segment = selectors.segment_by_key_or_name(name) if isinstance(name, str) else None
                if segment is None:
                    self.fault(f"{path}.segments[{j}]", f"no segment with the key or name {name!r}")
                else:
                    checked["segments"].append(segment)
        # condition_problems names each fault's position within the conditions.
        self.problems.extend(f"{path}.{problem}" for problem in selectors.condition_problems(checked["conditions"]))
        checked["variants"] = self._variants(rule.get("variants"), f"{path}.variants", channel, in_file)
        checked["offer"] = self._offer(rule.get("offer", {}), f"{path}.offer")
        return checked

    def _variants(self, variants, path: str, channel, in_file: dict[str, str]) -> list[tuple[str, int]]:
        if not isinstance(variants, list) or not variants:
            self.fault(path, "must be a non-empty list of {template, weight}")
            return []
        stored = dict(MessageTemplate.objects.values_list("name", "channel"))
        result = []
        for j, variant in enumerate(variants):
            where = f"{path}[{j}]"
            if not self.keys(variant, where, {"template", "weight"}, {"template"}):
                continue
            name = variant.get("template")
            template_channel = in_file.get(name, stored.get(name))
            weight = self.number(variant.get("weight", 1), f"{where}.weight", 1, 1000)
            if template_channel is None:
                self.fault(f"{where}.template", f"no template named {name!r}")
            elif channel in Channel.values and template_channel != channel:
                self.fault(f"{where}.template", f"{name!r} is an {template_channel} template, the rule sends {channel}")
            elif weight:
                result.append((name, weight))
        return result

    def _offer(self, offer, path: str) -> dict:
        if not self.keys(offer, path, OFFER_KEYS):
            return {}
        for key in ("code", "discount"):
            if key in offer and not isinstance(offer[key], str):
                self.fault(f"{path}.{key}", "must be text")
        if "expires_days" in offer:
            self.number(offer["expires_days"], f"{path}.expires_days", 1, 365)
        return offer


def _save_templates(templates: list[dict]) -> dict[str, MessageTemplate]:
    saved = {}
    for spec in templates:
        fields = {key: spec.get(key, "") for key in ("subject", "html", "text", "body")}
        template, _ = MessageTemplate.objects.update_or_create(
            name=spec["name"], defaults={"channel": spec["channel"], **fields}
        )
        saved[template.name] = template
    return saved


def _save_campaign(data: dict, plan: dict) -> Campaign:
    goal = data.get("goal") or {"kind": "any_order"}
    fields = {
        "description": data.get("description", ""),
        "goal_kind": goal["kind"],
        "goal_code": goal.get("code", ""),
        "goal_amount": Decimal(str(goal["amount"])) if "amount" in goal else None,
    }
    for key in ("holdout_percent", "attribution_days"):
        if key in data:
            fields[key] = data[key]
    if plan["quiet"] != "absent":
        fields["quiet_start"], fields["quiet_end"] = plan["quiet"] if plan["quiet"] else (None, None)
    if plan["cap"] != "absent":
        fields["frequency_cap_messages"], fields["frequency_cap_days"] = plan["cap"] if plan["cap"] else (None, 7)
    fields["schedule_at"] = plan["schedule"].get("at")
    fields["schedule_cron"] = plan["schedule"].get("cron", "")
    campaign, _ = Campaign.objects.update_or_create(name=data["name"].strip(), defaults=fields)
    return campaign


def _save_rules(campaign: Campaign, rules: list[dict], templates: dict[str, MessageTemplate]) -> None:
    """Rules are matched by priority and updated in place, so messages sent under a rule keep
    pointing at it; rules the file no longer has are deleted."""
    existing = {rule.priority: rule for rule in campaign.rules.all()}
    keep = set()
    for spec in rules:
        offer = spec["offer"]
        rule = existing.get(spec["priority"]) or Rule(campaign=campaign, priority=spec["priority"])
        rule.channel, rule.conditions = spec["channel"], spec["conditions"]
        rule.offer_code, rule.offer_discount = offer.get("code", ""), offer.get("discount", "")
        rule.offer_expires_days = offer.get("expires_days")
        rule.save()
        rule.segments.set(spec["segments"])
        _save_variants(rule, spec["variants"], templates)
        keep.add(rule.pk)
    campaign.rules.exclude(pk__in=keep).delete()


def _save_variants(rule: Rule, variants: list[tuple[str, int]], templates: dict[str, MessageTemplate]) -> None:
    existing = {v.template.name: v for v in rule.variants.select_related("template")}
    keep = set()
    for name, weight in variants:
        template = templates.get(name) or MessageTemplate.objects.get(name=name)
        variant = existing.get(name) or Variant(rule=rule, template=template)
        variant.weight = weight
        variant.save()
        keep.add(variant.pk)
    rule.variants.exclude(pk__in=keep).delete()
