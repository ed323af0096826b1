--- fuse-ls: LSP ranges from lines, Visual selections and command ranges.
local M = {}

local function utf_col(line, byte_col, encoding)
  byte_col = math.min(math.max(byte_col, 0), #line)
  if encoding == 'utf-8' then
    return byte_col
  end
  local ok, col = pcall(vim.str_utfindex, line, encoding, byte_col, false)
  return ok and col or byte_col
end

--- LSP range from 1-based inclusive lines (line-wise).
--- @param bufnr integer
--- @param line1 integer
--- @param line2 integer
--- @param encoding? string
--- @return lsp.Range
function M.lines(bufnr, line1, line2, encoding)
  encoding = encoding or 'utf-16'
  if line1 > line2 then
    line1, line2 = line2, line1
  end
  local last = vim.api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ''
  return {
    start = { line = line1 - 1, character = 0 },
    ['end'] = { line = line2 - 1, character = utf_col(last, #last, encoding) },
  }
end

--- LSP range of the last visual selection in `bufnr` (charwise, linewise or blockwise,
--- the latter taken line-wise).
--- @param bufnr? integer
--- @param encoding? string
--- @return lsp.Range
function M.visual(bufnr, encoding)
  bufnr = vim._resolve_bufnr(bufnr or 0)
  encoding = encoding or 'utf-16'
  local s = vim.api.nvim_buf_get_mark(bufnr, '<')
  local e = vim.api.nvim_buf_get_mark(bufnr, '>')
  if s[1] > e[1] or (s[1] == e[1] and s[2] > e[2]) then
    s, e = e, s
  end
  if vim.fn.visualmode() ~= 'v' then
    return M.lines(bufnr, s[1], e[1], encoding)
  end
  local lines = vim.api.nvim_buf_get_lines(bufnr, s[1] - 1, e[1], false)
  local first, last = lines[1] or '', lines[#lines] or ''
  -- '> is the byte index of the first byte of the last selected character.
  local end_byte = #last
  if e[2] < #last then
    local char_len = vim.str_utf_end(last, e[2] + 1) + 1
    end_byte = e[2] + char_len
  end
  if vim.o.selection == 'exclusive' then
    end_byte = math.min(e[2], #last)
  end
  return {
    start = { line = s[1] - 1, character = utf_col(first, s[2], encoding) },
    ['end'] = { line = e[1] - 1, character = utf_col(last, end_byte, encoding) },
  }
end

--- Range for a user command: nil (whole document) without a range, the visual selection
--- when the command was given on one, else the line range.
--- @param bufnr integer
--- @param cmdopts? { range: integer, line1: integer, line2: integer }
--- @param encoding string
--- @return lsp.Range?
function M.command(bufnr, cmdopts, encoding)
  if not cmdopts or cmdopts.range == 0 then
    return nil
  end
  local vs = vim.api.nvim_buf_get_mark(bufnr, '<')
  local ve = vim.api.nvim_buf_get_mark(bufnr, '>')
  if vs[1] == cmdopts.line1 and ve[1] == cmdopts.line2 and vs[1] > 0 then
    return M.visual(bufnr, encoding)
  end
  return M.lines(bufnr, cmdopts.line1, cmdopts.line2, encoding)
end

return M
