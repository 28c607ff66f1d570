from django.contrib import admin

from .models import SLO, Panel, Service


class SLOInline(admin.StackedInline):
    model = SLO
    extra = 0
    fieldsets = [
        (None, {"fields": [("name", "position"), "query", ("direction", "objective", "warning", "unit")]}),
        ("Error budget (empty target: a threshold objective with no budget)", {
            "fields": [("target", "window_days", "runbook"), "error_query", "total_query"],
            "description": "After a change, run <code>manage.py generate_slo_rules</code> and deploy the rules file."}),
    ]


class PanelInline(admin.TabularInline):
    model = Panel
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "owner", "selector")
    search_fields = ("name", "slug", "owner")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [SLOInline, PanelInline]
