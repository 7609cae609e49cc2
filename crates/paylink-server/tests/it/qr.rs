//! QR codes decode back to the link's URL.

use crate::both;
use crate::helpers::TestApp;

both!(qr_codes_decode_to_the_link_url);

fn decode_png(bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code expected");
    let (meta, content) = grids[0].decode().unwrap();
    assert_eq!(meta.ecc_level, 0, "error correction level M");
    content
}

async fn qr_codes_decode_to_the_link_url(app: TestApp) {
    let l = app.custom_link("Scan me", 1234).await;
    let id = l["id"].as_str().unwrap();
    for size in [128, 512, 1024] {
        let r = app
            .client
            .get(format!(
                "{}/v1/payment_links/{id}/qr.png?size={size}",
                app.base
            ))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/png");
        let bytes = r.bytes().await.unwrap();
        assert_eq!(
            decode_png(&bytes),
            l["url"].as_str().unwrap(),
            "size {size}"
        );
    }
    let r = app
        .client
        .get(format!("{}/v1/payment_links/{id}/qr.svg", app.base))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["content-type"].to_str().unwrap()
        ),
        (200, "image/svg+xml")
    );
    let svg = r.text().await.unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("</svg>"),
        "{}",
        &svg[..svg.len().min(200)]
    );
    assert!(
        svg.contains("width=\"512\" height=\"512\""),
        "{}",
        &svg[..svg.len().min(200)]
    );
    app.get(&format!("/v1/payment_links/{id}/qr.png?size=10"))
        .await
        .assert_error(400, "parameter_invalid")
        .assert_param("size");
    app.get(&format!("/v1/payment_links/{id}/qr.png?size=9999"))
        .await
        .assert_error(400, "parameter_invalid");
    app.get(&format!("/v1/payment_links/{id}/qr.png?colour=red"))
        .await
        .assert_error(400, "parameter_unknown");
}
