// The Packets layer (see DESIGN.md). Built up by its issue.
