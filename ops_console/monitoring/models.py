"""Services as data: what a service is, how to find it in Prometheus, its SLOs
and dashboard panels."""
from django.db import models


class Service(models.Model):
    slug = models.SlugField(unique=True, help_text="Stable name used in URLs, runbooks and alert labels")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.CharField(max_length=200, blank=True, help_text="Team or person that owns the service")
    # PromQL label matchers without braces, e.g. job="backend"; templates use it as {{ selector }}.
    selector = models.CharField(max_length=500, blank=True)
    links = models.JSONField(default=list, blank=True, help_text='[{"title": ..., "url": ...}]')
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name
