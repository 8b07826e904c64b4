//! `plangate completions SHELL` and `plangate man`: the shell completion
//! scripts and man pages, generated from the same clap definition as the
//! parser, so they cannot drift from the flags.

use clap::CommandFactory as _;

use crate::{
    CliError,
    args::{Cli, CompletionsArgs, ManArgs},
    exit,
    printer::Printer,
};

/// Prints the completion script of `args.shell` on stdout.
pub(crate) fn completions(args: &CompletionsArgs, printer: &Printer) -> Result<u8, CliError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "plangate", &mut script);
    printer
        .data_with(|out| out.write_all(&script))
        .map_err(CliError::Stdout)?;
    Ok(exit::SUCCESS)
}

/// Prints `plangate.1` on stdout, or writes every page (`plangate.1` and
/// `plangate-COMMAND.1`) into `args.out_dir`, naming each file on stdout.
pub(crate) fn man(args: &ManArgs, printer: &Printer) -> Result<u8, CliError> {
    let command = Cli::command();
    let Some(folder) = &args.out_dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut page)
            .map_err(CliError::Stdout)?;
        printer
            .data_with(|out| out.write_all(&page))
            .map_err(CliError::Stdout)?;
        return Ok(exit::SUCCESS);
    };
    std::fs::create_dir_all(folder).map_err(|source| CliError::WriteOutput {
        path: folder.clone(),
        source,
    })?;
    // As `clap_mangen::generate_to` does: built, the subcommands carry their
    // display names (`plangate-run`), which name their pages.
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let mut pages: Vec<clap::Command> = command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .cloned()
        .collect();
    pages.insert(0, command);
    let mut written = Vec::new();
    for page_command in pages {
        let man = clap_mangen::Man::new(page_command);
        let path = folder.join(man.get_filename());
        let mut page = Vec::new();
        man.render(&mut page)
            .and_then(|()| std::fs::write(&path, &page))
            .map_err(|source| CliError::WriteOutput {
                path: path.clone(),
                source,
            })?;
        written.push(path.display().to_string());
    }
    written.push(String::new());
    printer
        .data(&written.join("\n"))
        .map_err(CliError::Stdout)?;
    Ok(exit::SUCCESS)
}
