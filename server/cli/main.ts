// `signet` — one command line for the operator (org, operator, demo, audit: they work on the
// installation's Redis) and for CI (sign: it needs only a URL and an API key). Parsed by commander,
// for per-command help and --version. The operator's commands are loaded only when one runs, so
// `signet sign` starts without the server's modules or configuration.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { addSignCommand } from './sign/command.js';
import { EXIT, SignExit } from './sign/exitCodes.js';
import type { OperatorCommand, OperatorOptions } from './operatorCommands.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const OPERATOR_NOTE = `
Operator commands use REDIS_URL, or the primary the Sentinels in REDIS_SENTINELS name, or else the
Redis of SIGNET_DATA_DIR (default ./data), starting it if it is not running, and need the installation's SIGNET_MASTER_KEY (or its master.key). Exit codes: 0 ok,
1 refused or failed (a missing option is INVALID_INPUT), 2 usage (unknown command or option),
78 configuration (a bad variable, another installation's master key).`;

/** Runs an operator command, loading its module (and with it the server's) only now. */
function operator(name: OperatorCommand) {
  return async (options: OperatorOptions) => {
    const { OPERATOR_COMMANDS, operatorFailure } = await import('./operatorCommands.js');
    try {
      process.exitCode = await OPERATOR_COMMANDS[name](options);
    } catch (error) {
      const failure = operatorFailure(error);
      console.error(failure.message);
      process.exitCode = failure.code;
    }
  };
}

function buildProgram(): Command {
  const program = new Command('signet')
    .description("Signet's command line: sign files from CI, and run an installation")
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (every command has its own)')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('after', OPERATOR_NOTE);

  addSignCommand(program);

  const org = program.command('org').description('organizations (operator)');
  org
    .command('create')
    .description('create an organization and its owner; prints the owner\'s one-time setup link')
    .option('--slug <slug>', 'the organization\'s slug (required)')
    .option('--name <name>', 'its name (required)')
    .option('--owner-email <email>', 'the owner\'s email (required)')
    .option('--owner-name <name>', 'the owner\'s name (required)')
    .option('--owner-password <password>', 'set the owner\'s password now instead of by the link')
    .option('--open-source', 'an open-source organization (origin verification on every policy)')
    .action(operator('org create'));
  org
    .command('transfer-ownership')
    .description('make a member the owner; the former owner becomes an admin')
    .option('--org <slug>', 'the organization (required)')
    .option('--to <email>', 'the member to become owner (required)')
    .action(operator('org transfer-ownership'));
  org
    .command('open-source')
    .description('turn open-source mode on or off')
    .option('--org <slug>', 'the organization (required)')
    .option('--on', 'turn it on')
    .option('--off', 'turn it off')
    .action(operator('org open-source'));

  program
    .command('operator')
    .description('support operators (operator)')
    .command('create')
    .description('create an operator account')
    .option('--email <email>', 'their email (required)')
    .option('--name <name>', 'their name (required)')
    .action(operator('operator create'));

  program
    .command('demo')
    .description('create (once) a demo organization with one user per role, a CI user, a project, policies and a test certificate; prints the credentials')
    .option('--json', 'print one line of JSON')
    .action(operator('demo'));

  const audit = program.command('audit').description('the audit log (operator)');
  audit
    .command('verify')
    .description("check an organization's audit chain; exit 1 and the first broken entry if it was tampered with or rolled back")
    .option('--org <slug>', 'the organization (required)')
    .option('--checkpoint <file>', 'also check against a checkpoint saved earlier by `audit checkpoint`')
    .action(operator('audit verify'));
  audit
    .command('checkpoint')
    .description("print the audit log's current signed checkpoint (a C2SP note), to keep outside Redis")
    .option('--org <slug>', 'the organization (required)')
    .action(operator('audit checkpoint'));

  // Subcommands take the parent's settings when created, so exitOverride and the error help
  // reach them all; groups without a subcommand show their help as a usage error.
  return program;
}

/** Exit codes for commander's own outcomes: help and version are fine, the rest is usage (2). */
function exitForCommander(error: CommanderError): number {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
  return EXIT.usage;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return exitForCommander(error);
    if (error instanceof SignExit) {
      console.error(error.message);
      return error.exitCode;
    }
    console.error(error instanceof Error ? error.message : error);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
