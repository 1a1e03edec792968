//! Styles in one place. Colour adds meaning but never carries it alone: every
//! coloured thing also has a symbol or a word. `NO_COLOR` drops colour and
//! keeps bold/reverse, which monochrome terminals show.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
    pub ascii: bool,
}

impl Theme {
    pub fn from_env() -> Self {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let ascii = std::env::var("LOOPDECK_ASCII").is_ok_and(|v| v == "1")
            || !std::env::var("LANG")
                .or_else(|_| std::env::var("LC_ALL"))
                .or_else(|_| std::env::var("LC_CTYPE"))
                .map(|l| l.to_ascii_uppercase().contains("UTF"))
                .unwrap_or(true);
        Theme { color, ascii }
    }

    pub fn plain() -> Self {
        Theme {
            color: false,
            ascii: false,
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn fail(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn pass(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn skip(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn focused_border(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn border_set(&self) -> border::Set<'static> {
        if self.ascii {
            border::Set {
                top_left: "+",
                top_right: "+",
                bottom_left: "+",
                bottom_right: "+",
                vertical_left: "|",
                vertical_right: "|",
                horizontal_top: "-",
                horizontal_bottom: "-",
            }
        } else {
            border::PLAIN
        }
    }
    pub fn pass_mark(&self) -> &'static str {
        if self.ascii { "ok" } else { "✔" }
    }
    pub fn fail_mark(&self) -> &'static str {
        if self.ascii { "X" } else { "✘" }
    }
    /// A pass only a rerun of the failing tests vouches for.
    pub fn provisional_mark(&self) -> &'static str {
        "~"
    }
}
