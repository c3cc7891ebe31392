// The Capture layer (see DESIGN.md). Built up by its issue.
