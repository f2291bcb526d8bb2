"""Reports, all views of one `RunRecord`: terminal summary, JUnit XML, HTML (and the JSON record).

`hil.report.console.summary_text`, `hil.report.junit.write_junit` and
`hil.report.html.write_html`; `hil.report.table` formats plain-text tables.
"""
