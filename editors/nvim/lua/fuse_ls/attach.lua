--- fuse-ls: attach to buffers without a filetype (with `filetypes = nil`).
local client = require('fuse_ls.client')
local config = require('fuse_ls.config')
local lsp = require('fuse_ls.lsp')

local M = {}

local augroup = vim.api.nvim_create_augroup('fuse_ls.attach', { clear = true })

--- With `filetypes = nil`, vim.lsp.enable() attaches on the FileType event, which never
--- fires for a buffer without a filetype; start the client for those too.
--- @param bufnr integer
function M.untyped(bufnr)
  if vim.bo[bufnr].buftype ~= '' or vim.bo[bufnr].filetype ~= '' then
    return
  end
  if not vim.lsp.is_enabled(config.name) or client.get(bufnr) then
    return
  end
  if vim.api.nvim_buf_get_name(bufnr) == '' then
    return
  end
  local cfg = vim.lsp.config[config.name]
  if not cfg or cfg.filetypes then
    return
  end
  local rd = cfg.root_dir
  if type(rd) == 'function' then
    -- The plugin's own root_dir starts the client itself; a user's calls on_dir.
    rd(bufnr, function(dir)
      lsp.start(bufnr, dir)
    end)
  else
    lsp.start(bufnr, rd)
  end
end

--- (Re)install the autocommand for buffers without a filetype, and attach the loaded
--- ones; `enabled = false` only removes it.
--- @param enabled boolean
function M.watch_untyped(enabled)
  vim.api.nvim_clear_autocmds({ group = augroup })
  if not enabled then
    return
  end
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
    group = augroup,
    callback = function(args)
      -- After FileType detection has had its chance.
      vim.schedule(function()
        if vim.api.nvim_buf_is_valid(args.buf) then
          M.untyped(args.buf)
        end
      end)
    end,
  })
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) then
      M.untyped(b)
    end
  end
end

return M
