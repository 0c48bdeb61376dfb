//! DOT to SVG through the `layout-rs` crate, and one correction to what it writes.

use crate::{Error, Result};

/// Lays out and draws DOT text. The layout engine asserts its own invariants with panics; a
/// picture is never worth aborting a training run for, so a panic there becomes an error.
pub(super) fn render(dot: &str) -> Result<String> {
    use layout::backends::svg::SVGWriter;
    use layout::gv::{DotParser, GraphBuilder};

    let fail = |why: String| Error::Msg(format!("viz::to_svg: cannot lay out the graph: {why}"));
    let ast = DotParser::new(dot).process().map_err(fail)?;
    let svg = std::panic::catch_unwind(|| {
        let mut builder = GraphBuilder::new();
        builder.visit_graph(&ast);
        let mut graph = builder.get();
        let mut svg = SVGWriter::new();
        graph.do_it(false, false, false, &mut svg);
        svg.finalize()
    })
    .map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the layout engine panicked".to_string());
        fail(why)
    })?;
    Ok(fit_canvas(svg))
}

/// `layout-rs` sizes the canvas as if every label were as tall as it has characters, which leaves
/// a tall empty band under any graph with long labels. Shrink the canvas to what is drawn: the
/// boxes and the arrows' control points. If the text is not in the shape expected, it is
/// returned unchanged (a roomy picture beats a cropped one).
fn fit_canvas(svg: String) -> String {
    let mut right = 0.0f64;
    let mut bottom = 0.0f64;
    for rect in svg.split("<rect ").skip(1) {
        let (Some(x), Some(y), Some(w), Some(h)) = (
            attr(rect, "x"),
            attr(rect, "y"),
            attr(rect, "width"),
            attr(rect, "height"),
        ) else {
            return svg;
        };
        right = right.max(x + w);
        bottom = bottom.max(y + h);
    }
    for path in svg.split("<path ").skip(1) {
        let Some(d) = raw_attr(path, "d") else {
            return svg;
        };
        let numbers: Vec<f64> = d
            .split([' ', ','])
            .filter_map(|token| token.parse().ok())
            .collect();
        for point in numbers.chunks_exact(2) {
            right = right.max(point[0]);
            bottom = bottom.max(point[1]);
        }
    }
    let Some(start) = svg.find("<svg ") else {
        return svg;
    };
    let Some(end) = svg[start..].find(" xmlns=").map(|i| start + i) else {
        return svg;
    };
    if right <= 0.0 || bottom <= 0.0 {
        return svg;
    }
    // The same margin layout-rs leaves on the other sides.
    let (width, height) = ((right + 30.0).ceil(), (bottom + 30.0).ceil());
    format!(
        "{}<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\"{}",
        &svg[..start],
        &svg[end..]
    )
}

/// The text of attribute `name="..."` at the start of an element's attribute list.
fn raw_attr<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let head = &element[..element.find('>')?];
    let key = format!(" {name}=\"");
    let at = format!(" {head}").find(&key)? + key.len() - 1;
    let rest = &head[at..];
    Some(&rest[..rest.find('"')?])
}

fn attr(element: &str, name: &str) -> Option<f64> {
    raw_attr(element, name)?.trim().parse().ok()
}
