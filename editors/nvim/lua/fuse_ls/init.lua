--- fuse-ls: multi-model consensus (fused review, explain, fix) in Neovim >= 0.11.
---
--- Two ways in:
---   require('fuse_ls').setup({...})     -- vim.lsp.config + vim.lsp.enable, user commands
---   vim.lsp.enable('fuse_ls')            -- uses lsp/fuse_ls.lua on the runtimepath
---
--- This module is the public API; the work is done by modules by concern:
---   config (options), state (runtime state), client (finding the client, messages),
---   range, commands (server commands, cancel), results (what the user is told),
---   explanation (window, showDocument), fix_preview (applyEdit with confirmation),
---   progress (progress, status notifications, statusline), lsp (the vim.lsp.Config),
---   attach (buffers without a filetype), user_commands (:Fuse*, keymaps), health.
---
--- See :help fuse_ls.
local attach = require('fuse_ls.attach')
local client = require('fuse_ls.client')
local commands = require('fuse_ls.commands')
local config = require('fuse_ls.config')
local explanation = require('fuse_ls.explanation')
local lsp = require('fuse_ls.lsp')
local progress = require('fuse_ls.progress')
local range = require('fuse_ls.range')
local state = require('fuse_ls.state')
local user_commands = require('fuse_ls.user_commands')

local M = {}

M.name = config.name
--- Commands the server implements (docs/protocol.md).
M.commands = config.commands
M.defaults = config.defaults
--- Suggested keymaps, installed only with `keymaps = true`.
M.suggested_keymaps = config.suggested_keymaps
--- Options in force (defaults until setup() runs); changes apply at once.
M.options = config.options
--- Runtime state, exposed for statuslines and tests.
M.state = state

--- The fuse-ls client attached to a buffer.
M.get_client = client.get
--- LSP range from 1-based inclusive lines: line_range(bufnr, line1, line2, encoding?).
M.line_range = range.lines
--- LSP range of the last Visual selection: visual_range(bufnr?, encoding?).
M.visual_range = range.visual

--- Run any fuse-ls command: execute(command, args, { bufnr?, client?, on_result? }).
M.execute = commands.execute
--- Fused review of a range (or the whole buffer). Diagnostics arrive by publishDiagnostics.
M.review = commands.review
--- Explain with consensus; the Markdown opens in a scratch buffer (option `explain`).
M.explain = commands.explain
--- Fused fix; the server sends the edit with workspace/applyEdit (option `confirm_fix`).
M.fix = commands.fix
--- Fused review of the git change: review_changes({ scope?, base?, paths?, on_result? }).
M.review_changes = commands.review_changes
--- Cancel the fusions of a buffer: cancel({ bufnr?, all?, on_result?, timeout_ms? }).
M.cancel = commands.cancel
--- Session statistics: stats({ bufnr?, on_result?, silent? }).
M.stats = commands.stats
M.format_stats = commands.format_stats

--- Show Markdown in the explanation buffer: show_markdown(markdown, title?).
M.show_markdown = explanation.show_markdown
--- '' when idle, e.g. 'fuse-ls 2/3' while a fusion runs.
M.statusline = progress.statusline

--- The vim.lsp.Config for fuse-ls (what lsp/fuse_ls.lua returns): config(opts?).
M.config = lsp.config
--- New `fuseLs` settings for running clients: update_settings(tbl).
M.update_settings = lsp.update_settings
--- Trust or distrust workspaces for running clients: set_trusted(bool|fun(root_dir)).
M.set_trusted = lsp.set_trusted

--- Define the :Fuse* user commands (idempotent).
M.create_user_commands = user_commands.create
--- Install keymaps: `true` for M.suggested_keymaps, or a table { review = '<lhs>', ... }.
M.set_keymaps = user_commands.set_keymaps
M._attach_untyped = attach.untyped

--- @param opts? fuse_ls.Options
function M.setup(opts)
  if vim.fn.has('nvim-0.11') == 0 then
    client.notify('needs Neovim 0.11 or newer', vim.log.levels.ERROR)
    return
  end
  local options = config.set(opts)
  vim.lsp.config(config.name, lsp.config(options))
  vim.lsp.enable(config.name)
  user_commands.create()
  if options.keymaps then
    user_commands.set_keymaps(options.keymaps)
  end
  attach.watch_untyped(not options.filetypes)
  attach.watch_named()
end

return M
