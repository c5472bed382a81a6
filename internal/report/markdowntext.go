package report

// MarkdownText escapes tenant-supplied text for Markdown, as the Markdown report does: nothing in it can
// start emphasis, code, a link, a tag or a heading, and no control character is left.
func MarkdownText(s string) string { return mdText(s) }

// MarkdownCell is MarkdownText on one line, for table cells.
func MarkdownCell(s string) string { return mdCell(s) }
