// MathJax 3 settings for pymdownx.arithmatex (generic mode). MathJax itself is served from
// this site (assets/mathjax/), never from a CDN.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};

// With instant navigation Material swaps pages without a reload: typeset each swapped-in page.
// The first emission is the initial page, which MathJax's own startup typesets; clearing it
// here would race that typeset and drop the glyph styles.
if (typeof document$ !== "undefined") {
  let initial = true;
  document$.subscribe(() => {
    if (initial) {
      initial = false;
      return;
    }
    MathJax.startup.output.clearCache();
    MathJax.typesetClear();
    MathJax.texReset();
    MathJax.typesetPromise();
  });
}
