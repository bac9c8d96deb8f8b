"""The admin's CSV upload form."""

import codecs

from django import forms

from segments.importing import FORMATS, ImportFileError, fields_for, parse_mapping
from segments.models import ImportJob

ENCODINGS = [
    ("", "Detect it for me (recommended)"),
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 with a byte order mark (Excel \"CSV UTF-8\")"),
    ("cp1252", "Windows / Western Europe (cp1252, older Excel on Windows)"),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
]

FORMAT_LABELS = {
    "default": "One row per order",
    "online-retail": "One row per invoice line (Online Retail: InvoiceNo, StockCode, Quantity, UnitPrice...)",
}


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="A spreadsheet saved as CSV. The first line must hold the column names.",
    )
    kind = forms.ChoiceField(
        label="What the file contains",
        choices=ImportJob.Kind.choices,
        initial=ImportJob.Kind.CUSTOMERS,
        widget=forms.RadioSelect,
    )
    format = forms.ChoiceField(
        label="Order file layout",
        choices=[(f, FORMAT_LABELS[f]) for f in FORMATS],
        initial="default",
        required=False,
        help_text="Only for orders. Choose the invoice-line layout when each row is one product of an invoice: "
        "the lines of an invoice are added up into one order.",
    )
    mapping = forms.CharField(
        label="Column names",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 50, "placeholder": "external_id=Kundennummer\nemail=E-Mail"}),
        help_text="Only needed when your columns have other names than ours. One per line: our field name, "
        "an equals sign, your column name.",
    )
    date_format = forms.CharField(
        label="Date format",
        required=False,
        max_length=64,
        help_text="Leave empty to let us recognise the dates. If days and months come out swapped, say how your "
        "dates are written, e.g. %d/%m/%Y %H:%M for 31/03/2024 14:05.",
    )
    encoding = forms.ChoiceField(label="Text encoding", choices=ENCODINGS, required=False,
                                 help_text="Change this only if names with accents (Café, Zoë) come out garbled.")
    dry_run = forms.BooleanField(
        label="Check only (dry run)",
        required=False,
        help_text="Reads and checks the whole file and shows what would change, without saving anything.",
    )

    def clean_encoding(self):
        encoding = self.cleaned_data["encoding"]
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise forms.ValidationError("Unknown encoding.") from None
        return encoding

    def clean_date_format(self):
        date_format = self.cleaned_data["date_format"].strip()
        if date_format and "%" not in date_format:
            raise forms.ValidationError("A date format uses codes such as %d (day), %m (month), %Y (year), %H:%M.")
        return date_format

    def clean(self):
        cleaned = super().clean()
        kind, layout = cleaned.get("kind"), cleaned.get("format") or "default"
        if kind == ImportJob.Kind.CUSTOMERS:
            cleaned["format"] = "default"
            layout = "default"
        try:
            mapping = parse_mapping(cleaned.get("mapping", "").splitlines())
        except ImportFileError as exc:
            self.add_error("mapping", str(exc))
            return cleaned
        fields = fields_for(kind or ImportJob.Kind.CUSTOMERS, layout)
        unknown = [name for name in mapping if name not in fields]
        if unknown:
            self.add_error(
                "mapping", f"Not one of our field names: {', '.join(unknown)}. They are: {', '.join(fields)}."
            )
        cleaned["mapping"] = mapping
        return cleaned

    def options(self) -> dict:
        data = self.cleaned_data
        return {
            "format": data["format"] or "default",
            "mapping": data["mapping"],
            "date_format": data["date_format"],
            "encoding": data["encoding"],
            "dry_run": data["dry_run"],
        }
