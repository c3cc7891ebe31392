// The Devices layer (see DESIGN.md). Built up by its issue.
