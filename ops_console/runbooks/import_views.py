"""The Import page: plain Markdown runbooks uploaded as files or pasted, stored
by the importer as runbooks marked imported. Who may edit runbooks may import."""
from pathlib import PurePath

from django.conf import settings
from django.shortcuts import render

from ops_console.ui.access import require

from . import importer


@require("runbooks.change_runbook")
def import_runbooks(request):
    results, errors = [], []
    if request.method == "POST":
        named = []
        for upload in request.FILES.getlist("files"):   # Django refuses more than DATA_UPLOAD_MAX_NUMBER_FILES
            name = PurePath(upload.name or "upload.md").name     # a name, never a path on this server
            try:
                named.append((name, importer.decode(upload.read(importer.MAX_BYTES + 1))))
            except (UnicodeDecodeError, ValueError) as exc:
                named.append((name, exc))
        source = request.POST.get("source", "")
        if source.strip():
            name = PurePath(request.POST.get("name", "").strip() or "pasted.md").name
            named.append((name if name.lower().endswith(".md") else f"{name}.md", source))
        if not named:
            errors.append("Choose Markdown files or paste a runbook.")
        results = importer.import_texts(named, actor=request.user)
    stored = any(result.stored for result in results)
    failed = errors or any(result.errors for result in results)
    return render(request, "runbooks/import.html", {
        "results": results, "errors": errors, "max_files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
        "max_kb": importer.MAX_BYTES // 1000}, status=400 if failed and not stored else 200)
