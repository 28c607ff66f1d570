from django.contrib import admin

from .models import SLO, Panel, Service


class SLOInline(admin.TabularInline):
    model = SLO
    extra = 0


class PanelInline(admin.TabularInline):
    model = Panel
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "owner", "selector")
    search_fields = ("name", "slug", "owner")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [SLOInline, PanelInline]
