"""Pictures and pages: matplotlib plots and the static HTML report."""
