"""Results for people: console tables, the HTML report, static figures (matplotlib is
imported lazily) and pictures of architectures."""

from hwnas.report.drawings import draw_architecture, register_drawer
from hwnas.report.html import render_report, write_report
from hwnas.report.outputs import write_outputs

__all__ = ["draw_architecture", "register_drawer", "render_report", "write_outputs", "write_report"]
