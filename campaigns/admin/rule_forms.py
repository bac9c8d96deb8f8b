"""The rule form of a campaign's page: segments to choose, conditions built as rows of field /
test / value (no code to write), and the rule's templates with their weights.

Django's admin has no inlines within inlines, so a rule's variants are a field of the rule form:
rows of template and weight, saved with the rule. Segments and templates are read once per page
(a RuleCatalog handed to every rule form), not once per rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django import forms
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html, format_html_join

from campaigns.models import Channel, MessageTemplate, Rule, Variant
from segments import selectors
from segments.admin.display import number

OPERATOR_WORDS = {
    "==": "is",
    "!=": "is not",
    "<": "is less than",
    "<=": "is at most",
    ">": "is more than",
    ">=": "is at least",
    "in": "is one of",
    "not in": "is none of",
    "contains": "contains",
}
FIELD_WORDS = {
    "monetary": "net spend (all orders, returns taken off)",
    "frequency": "number of orders",
    "products_purchased": "items bought",
    "returns": "number of returns",
    "recency_days": "days since the last order",
    "tenure_days": "days since the first order",
    "country": "country",
    "first_name": "first name",
    "last_name": "last name",
    "email": "email address",
    "phone": "phone number",
    "time_zone": "time zone",
    "locale": "language",
    "email_consent": "agreed to marketing email (yes or no)",
    "sms_consent": "agreed to marketing SMS (yes or no)",
}
YES, NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}
BLANK_CONDITIONS, BLANK_VARIANTS = 2, 1
MAX_WEIGHT = 1000


def condition_fields() -> list[tuple[str, str]]:
    """(name, words) of every field a condition may test by name; attributes are typed in."""
    names = [*selectors.ORDER_FIGURES, *selectors.DAY_COUNTS, *selectors.CUSTOMER_FIELDS]
    return [(name, FIELD_WORDS.get(name, name.replace("_", " "))) for name in names]


def condition_in_words(condition: dict) -> str:
    """`monetary >= 100` as "net spend is at least 100"."""
    value = condition.get("value")
    shown = ", ".join(_format(v) for v in value) if isinstance(value, list) else _format(value)
    name = condition.get("field", "")
    return f"{FIELD_WORDS.get(name, name)} {OPERATOR_WORDS.get(condition.get('op'), condition.get('op'))} {shown}"


def rule_in_words(rule: Rule) -> str:
    """"rule 1: Email to Champions whose net spend is at least 100" (its segments prefetched)."""
    segments = ", ".join(s.name for s in rule.segments.all()) or "no segment"
    text = f"rule {rule.priority}: {rule.get_channel_display()} to {segments}"
    if rule.conditions:
        text += " whose " + " and ".join(condition_in_words(c) for c in rule.conditions)
    return text


def _format(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- conditions -----------------------------------------------------------------------------------


def _rows(data, name: str, columns: tuple[str, ...]) -> list[dict]:
    """The rows a row editor posted (`<name>-<i>-<column>`), in order, blank rows left out."""
    pattern = re.compile(rf"{re.escape(name)}-(\d+)-{columns[0]}")
    indices = sorted({int(m.group(1)) for key in data if (m := pattern.fullmatch(key))})
    rows = []
    for i in indices:
        row = {column: (data.get(f"{name}-{i}-{column}") or "").strip() for column in columns}
        if any(row[c] for c in columns if c not in ("op", "weight")):
            rows.append(row)
    return rows


def _add_button(label: str):
    return format_html('<button type="button" class="button segcampaign-add-row">{}</button>', label)


class ConditionsWidget(forms.Widget):
    """Rows of field / test / value. The field box suggests the known fields (the page's
    datalist #segcampaign-condition-fields) and takes any imported column's name."""

    def format_value(self, value):
        return value or []

    def render(self, name, value, attrs=None, renderer=None):
        rows = [*(value or []), *({"field": "", "op": "==", "value": ""} for _ in range(BLANK_CONDITIONS))]
        body = format_html_join("", "{}", ((self._row(name, i, row),) for i, row in enumerate(rows)))
        return format_html(
            '<div class="segcampaign-editor"><table class="segcampaign-rows segcampaign-conditions"><thead><tr>'
            "<th>customer field</th><th>test</th><th>value</th></tr></thead><tbody>{}</tbody></table>{}</div>",
            body, _add_button("Add a condition"),
        )

    def _row(self, name: str, i: int, row: dict):
        value = row.get("value", "")
        value = ", ".join(_format(v) for v in value) if isinstance(value, list) else _format(value)
        options = format_html_join(
            "", '<option value="{}"{}>{}</option>',
            ((op, " selected" if op == row.get("op", "==") else "", words) for op, words in OPERATOR_WORDS.items()),
        )
        return format_html(
            '<tr><td><input type="text" name="{n}-{i}-field" value="{}" list="segcampaign-condition-fields" '
            'placeholder="e.g. monetary" size="22"></td><td><select name="{n}-{i}-op">{}</select></td>'
            '<td><input type="text" name="{n}-{i}-value" value="{}" size="24" placeholder="e.g. 100, or GB, IE">'
            "</td></tr>",
            row.get("field", ""), options, value, n=name, i=i,
        )

    def value_from_datadict(self, data, files, name):
        return _rows(data, name, ("field", "op", "value"))

    def value_omitted_from_data(self, data, files, name):
        return False


class ConditionsField(forms.Field):
    """The rows as condition dicts (`{"field", "op", "value"}`) with typed values, checked by
    segments' own condition_problems."""

    widget = ConditionsWidget

    def to_python(self, value):
        conditions, problems = [], []
        for i, row in enumerate(value or [], start=1):
            try:
                parsed = _parse_value(row["field"], row["op"], row["value"])
            except ValueError as exc:
                problems.append(f"condition {i}: {exc}")
                continue
            conditions.append({"field": row["field"], "op": row["op"] or "==", "value": parsed})
        problems.extend(_renumbered(p) for p in selectors.condition_problems(conditions))
        if problems:
            raise forms.ValidationError(problems)
        return conditions


def _parse_value(name: str, op: str, text: str):
    if op in ("in", "not in"):
        return [_scalar(name, part.strip()) for part in text.split(",") if part.strip()]
    return _scalar(name, text)


def _scalar(name: str, text: str):
    kind = selectors.CUSTOMER_FIELDS.get(name)
    if kind == "bool":
        if text.lower() in YES | NO:
            return text.lower() in YES
        raise ValueError(f"{FIELD_WORDS.get(name, name)} takes yes or no, not {text!r}")
    if kind == "text":
        return text
    try:
        number_ = float(text)
    except ValueError:
        return text  # an attribute may hold text; an order figure that is not a number is reported
    return int(number_) if number_.is_integer() else number_


def _renumbered(problem: str) -> str:
    """"conditions[1].value: ..." as "condition 2: ..."."""
    return re.sub(r"^conditions\[(\d+)\](\.\w+)?", lambda m: f"condition {int(m.group(1)) + 1}", problem)


# --- variants -------------------------------------------------------------------------------------


class VariantsWidget(forms.Widget):
    """Rows of template and weight."""

    def __init__(self, attrs=None, choices=()):
        super().__init__(attrs)
        self.choices = list(choices)

    def render(self, name, value, attrs=None, renderer=None):
        rows = [*(value or []), *({"template": "", "weight": "1"} for _ in range(BLANK_VARIANTS))]
        body = format_html_join("", "{}", ((self._row(name, i, row),) for i, row in enumerate(rows)))
        return format_html(
            '<div class="segcampaign-editor"><table class="segcampaign-rows segcampaign-variants"><thead><tr>'
            "<th>template</th><th>weight</th></tr></thead><tbody>{}</tbody></table>{}</div>",
            body, _add_button("Add a template"),
        )

    def _row(self, name: str, i: int, row: dict):
        chosen = str(row.get("template", ""))
        options = format_html_join(
            "", '<option value="{}"{}>{}</option>',
            ((pk, " selected" if str(pk) == chosen else "", label) for pk, label in [("", "—"), *self.choices]),
        )
        return format_html(
            '<tr><td><select name="{n}-{i}-template">{}</select></td><td><input type="number" name="{n}-{i}-weight" '
            'value="{}" min="1" max="{}" style="width:5em"></td></tr>',
            options, row.get("weight", 1), MAX_WEIGHT, n=name, i=i,
        )

    def value_from_datadict(self, data, files, name):
        return _rows(data, name, ("template", "weight"))

    def value_omitted_from_data(self, data, files, name):
        return False


class VariantsField(forms.Field):
    """[(template id, weight), ...] from the rows: at least one, each template once."""

    widget = VariantsWidget

    def __init__(self, *, choices=(), **kwargs):
        super().__init__(**kwargs)
        self.choices = choices

    @property
    def choices(self):
        return self._choices

    @choices.setter
    def choices(self, value):
        self._choices = list(value)
        self.widget.choices = self._choices

    def to_python(self, value):
        known = {str(pk) for pk, _ in self.choices}
        variants, problems = [], []
        for row in value or []:
            if row["template"] not in known:
                problems.append("Choose a template in every row (or leave the row empty).")
                continue
            try:
                weight = int(row["weight"] or 1)
            except ValueError:
                weight = 0
            if not 1 <= weight <= MAX_WEIGHT:
                problems.append(f"A weight is a whole number from 1 to {MAX_WEIGHT}.")
                continue
            variants.append((int(row["template"]), weight))
        if len({pk for pk, _ in variants}) != len(variants):
            problems.append("Each template may appear once; give it a larger weight to send it more often.")
        if problems:
            raise forms.ValidationError(problems)
        return variants

    def has_changed(self, initial, data):
        before = [(int(row["template"]), int(row["weight"])) for row in initial or []]
        try:
            return before != self.to_python(data)
        except forms.ValidationError:
            return True

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError("Choose at least one template for the rule to send.", code="required")


# --- the rule form --------------------------------------------------------------------------------


@dataclass
class RuleCatalog:
    """The live segments and all templates, read once for every rule form of a page."""

    segments: list[tuple[int, str]] = field(default_factory=list)
    templates: list[tuple[int, str]] = field(default_factory=list)
    template_channels: dict[int, str] = field(default_factory=dict)
    template_names: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> RuleCatalog:
        segments = [(s.pk, f"{s.name} ({number(s.size)} customers)") for s in selectors.live_segments()]
        templates = list(MessageTemplate.objects.only("pk", "name", "channel"))
        return cls(
            segments=segments,
            templates=[(t.pk, f"{t.name} ({t.get_channel_display()})") for t in templates],
            template_channels={t.pk: t.channel for t in templates},
            template_names={t.pk: t.name for t in templates},
        )


class RuleForm(forms.ModelForm):
    segments = forms.TypedMultipleChoiceField(
        coerce=int, widget=forms.CheckboxSelectMultiple,
        help_text="The rule speaks to the customers who are in any of these segments now.",
    )
    conditions = ConditionsField(
        required=False, label="Only customers whose",
        help_text="Every condition must hold. Leave empty to take every customer of the segments. Pick a field "
        "from the list or type the name of a column you imported; for 'is one of', separate the values with "
        "commas. Day counts are whole days before today.",
    )
    variants = VariantsField(
        label="Templates",
        help_text="The rule sends one of these to each customer, chosen at random by weight: weights 1 and 1 "
        "split the customers in half, 3 and 1 send the first to three in four (an A/B test).",
    )

    class Meta:
        model = Rule
        fields = ["priority", "channel", "segments", "conditions", "offer_code", "offer_discount",
                  "offer_expires_days"]
        labels = {"offer_code": "Coupon code", "offer_discount": "Discount", "offer_expires_days": "Valid for (days)"}
        help_texts = {
            "priority": "A customer gets at most one message per channel from a launch: from the rule with the "
            "lowest number that matches.",
            "offer_code": "Shown in the message as {{ offer.code }}.",
            "offer_discount": 'Shown as {{ offer.discount }}: "15%", "£5".',
            "offer_expires_days": "{{ offer.expires_at }} shows the last day. Empty: no end date.",
        }

    def __init__(self, *args, catalog: RuleCatalog | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.catalog = catalog or RuleCatalog.load()
        chosen = list(self.instance.segments.all()) if self.instance.pk else []
        live = {pk for pk, _ in self.catalog.segments}
        retired = [(s.pk, f"{s.name} (retired: no customers are in it now)") for s in chosen if s.pk not in live]
        self.fields["segments"].choices = [*self.catalog.segments, *retired]
        self.fields["variants"].choices = self.catalog.templates
        if self.instance.pk:
            self.initial["segments"] = [s.pk for s in chosen]
            self.initial["variants"] = [
                {"template": v.template_id, "weight": v.weight} for v in self.instance.variants.all()
            ]

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("channel")
        wrong = [
            self.catalog.template_names[pk] for pk, _ in cleaned.get("variants") or []
            if self.catalog.template_channels.get(pk) != channel
        ]
        if channel and wrong:
            what = "is a template" if len(wrong) == 1 else "are templates"
            self.add_error("variants", f"The rule sends {Channel(channel).label}, but {', '.join(wrong)} {what} for "
                                       "the other channel.")
        return cleaned

    def _save_m2m(self):
        super()._save_m2m()
        _save_variants(self.instance, self.cleaned_data.get("variants") or [])


def _save_variants(rule: Rule, variants: list[tuple[int, int]]) -> None:
    """Variants are kept by template, so messages already sent keep pointing at theirs."""
    existing = {v.template_id: v for v in rule.variants.all()}
    keep = []
    for template_id, weight in variants:
        variant = existing.get(template_id) or Variant(rule=rule, template_id=template_id)
        if variant.pk is None or variant.weight != weight:
            variant.weight = weight
            variant.save()
        keep.append(variant.pk)
    rule.variants.exclude(pk__in=keep).delete()


class RuleFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [
            form for form in self.forms
            if hasattr(form, "cleaned_data") and (form.instance.pk or form.has_changed())
            and not self._should_delete_form(form)
        ]
        priorities = [form.cleaned_data["priority"] for form in kept if form.cleaned_data.get("priority") is not None]
        if len(priorities) != len(set(priorities)):
            raise forms.ValidationError("Two rules have the same priority: give each rule its own number.")
