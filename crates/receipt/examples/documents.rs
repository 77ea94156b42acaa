//! Writes every document of the sample repair, in Chinese and English, to a folder:
//! `cargo run -p onsite-receipt --release --example documents -- <dir> [parts]`.

use std::path::PathBuf;

use onsite_receipt::{Document, Lang, file_name, render, sample};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "documents".into()));
    let parts: usize = args.next().map_or(Ok(8), |p| p.parse())?;
    std::fs::create_dir_all(&dir)?;
    let file = sample::repair_job(parts)?;
    for lang in [Lang::Zh, Lang::En] {
        for doc in Document::ALL {
            let out = render(&file, doc, lang, chrono::Utc::now())?;
            let path = dir.join(format!(
                "{}-{}",
                match lang {
                    Lang::Zh => "zh",
                    Lang::En => "en",
                },
                file_name(&file, doc, lang)
            ));
            std::fs::write(&path, &out.bytes)?;
            println!(
                "{} {} pages, {} bytes",
                path.display(),
                out.pages,
                out.bytes.len()
            );
        }
    }
    Ok(())
}
