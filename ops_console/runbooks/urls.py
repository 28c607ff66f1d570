from django.urls import path

from . import coverage_views, import_views, schedule_views, stream_views, views

app_name = "runbooks"
urlpatterns = [
    path("runbooks/", views.index, name="index"),
    path("runbooks/import/", import_views.import_runbooks, name="import"),   # before <slug>
    path("runbooks/coverage/", coverage_views.coverage, name="coverage"),   # before <slug>
    path("runbooks/<slug:slug>/", views.detail, name="detail"),
    path("runbooks/<slug:slug>/diff/", views.diff, name="diff"),
    path("runbooks/<slug:slug>/edit/", views.edit, name="edit"),
    path("runbooks/<slug:slug>/start/", views.start, name="start"),
    path("schedules/", schedule_views.index, name="schedules"),
    path("schedules/new/", schedule_views.new, name="schedule_new"),
    path("schedules/<int:pk>/edit/", schedule_views.edit, name="schedule_edit"),
    path("schedules/<int:pk>/enable/", schedule_views.enable, name="schedule_enable"),
    path("schedules/<int:pk>/disable/", schedule_views.disable, name="schedule_disable"),
    path("schedules/<int:pk>/delete/", schedule_views.delete, name="schedule_delete"),
    path("runs/", views.runs, name="runs"),
    path("runs/<int:pk>/", views.run, name="run"),
    path("runs/<int:pk>/stream/", stream_views.stream, name="stream"),
    path("runs/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("runs/<int:pk>/steps/<int:number>/run/", views.run_step, name="run_step"),
    path("runs/<int:pk>/steps/<int:number>/confirm/", views.confirm_step, name="confirm_step"),
    path("runs/<int:pk>/steps/<int:number>/approve/", views.approve_step, name="approve_step"),
    path("runs/<int:pk>/steps/<int:number>/reject/", views.reject_step, name="reject_step"),
    path("runs/<int:pk>/steps/<int:number>/skip/", views.skip_step, name="skip_step"),
    path("runs/<int:pk>/steps/<int:number>/retry/", views.retry_step, name="retry_step"),
]
